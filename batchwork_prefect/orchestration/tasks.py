"""Prefect tasks for each phase of a batch: load, build, submit, wait, read, cancel.

Each is a thin wrapper over the core. A batch past the provider's limits has several parts;
`submit_part`, `wait_for_part` and `read_part_results` each handle one part, so a flow
maps them over the parts. Submit, wait and read persist their results as JSON under keys
made of the batch's scope (a `BatchScope`, worked out once per batch and passed to each),
the batch's digest and the part, so a rerun resumes instead of paying again, and a rerun
after the read calls no provider at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

from prefect import get_run_logger, task
from prefect.context import TaskRunContext
from prefect.exceptions import TerminationSignal
from prefect.filesystems import WritableFileSystem

from batchwork_prefect.core import BatchJob, BuiltBatch, build_parts
from batchwork_prefect.core.polling import DEFAULT_MAX_POLL_INTERVAL, DEFAULT_POLL_INTERVAL
from batchwork_prefect.errors import BatchTimeoutError, ResultsIntegrityError, WaitStopped
from batchwork_prefect.models import BatchRequest, BatchResults, BatchSnapshot, PartHandle
from batchwork_prefect.orchestration.credentials import Credentials, connect
from batchwork_prefect.orchestration.persistence import part_ref, write_partial
from batchwork_prefect.orchestration.reporting import Progress, emit_ended
from batchwork_prefect.orchestration.requests_file import read_requests_file
from batchwork_prefect.orchestration.scopes import (
    BatchScope,
    ended_cache_key,
    results_cache_key,
    run_ended,
    submit_cache_key,
)
from batchwork_prefect.orchestration.sealing import BatchworkSerializer, ModelName
from batchwork_prefect.orchestration.stops import stop_signal
from batchwork_prefect.orchestration.submission import PartSubmission
from batchwork_prefect.outputs import OutputLike, OutputType
from batchwork_prefect.providers import BatchLimits, get_format, split_model

CacheKeyFn = Callable[[Any, dict[str, Any]], str | None]


def _persisted(name: str, cache_key_fn: CacheKeyFn, model: ModelName) -> dict[str, Any]:
    """A phase whose result is kept as a JSON record under its scope's key: a rerun finds it
    there instead of doing the phase again."""
    return {
        "name": name,
        "cache_key_fn": cache_key_fn,
        "result_serializer": BatchworkSerializer(model=model),
        "persist_result": True,
        "cache_result_in_memory": False,
    }


def _result_storage() -> WritableFileSystem | None:
    context = TaskRunContext.get()
    return context.result_store.result_storage if context is not None else None


@task(name="load-requests", persist_result=False)
def load_requests(path: str) -> list[dict[str, Any]]:
    """Read a batch's requests from a JSONL file on the worker, one object per line.

    Args:
        path: A local path or an fsspec URL the worker can read (`s3://...` with s3fs).
            Blank lines are skipped; lines that are not JSON objects are all reported
            together, as `path:line`, in one `InvalidBatchError`. At most 1,024,000,000
            bytes (`MAX_REQUESTS_FILE_BYTES`) are read.

    Returns:
        The request objects, for `build_batch`.

    Examples:
        ```python
        requests = load_requests("s3://bucket/requests.jsonl")
        built = build_batch("anthropic/claude-opus-4-8", requests)
        ```
    """
    rows = read_requests_file(path)
    get_run_logger().info("Loaded %d requests from %s", len(rows), path)
    return rows


@task(name="build-batch", persist_result=False)
def build_batch(
    model: str,
    requests: Sequence[BatchRequest | Mapping[str, Any]],
    defaults: Mapping[str, Any] | None = None,
    limits: BatchLimits | None = None,
    output: OutputType | OutputLike | None = None,
) -> BuiltBatch:
    """Validate and encode the requests, split into parts by the provider's limits. No network.

    Args:
        model: The model as 'provider/model', e.g. anthropic/claude-opus-4-8.
        requests: `BatchRequest`s or dicts with their fields.
        defaults: Fields merged under every request (max_tokens, system, ...).
        limits: Lower limits per provider batch than the provider's own.
        output: A typed batch's output type: a pydantic model class or a JSON schema.

    Returns:
        The `BuiltBatch`: its parts (one provider batch each) and its content digest.

    Examples:
        ```python
        built = build_batch("anthropic/claude-opus-4-8", [{"prompt": "Hi"}])
        scope = BatchScope.here(idempotency_key="2026-11-25")
        handles = submit_part.map(unmapped(built), range(len(built.parts)), unmapped(scope))
        ```
    """
    provider, model_name = split_model(model)
    built = build_parts(
        get_format(provider), model_name, requests, defaults, limits=limits, output=output
    )
    get_run_logger().info(
        "Built %d requests into %d part(s), digest %s",
        built.request_count,
        len(built.parts),
        built.digest[:16],
    )
    return built


@task(**_persisted("submit-part", submit_cache_key, "BatchHandle"))
def submit_part(
    built: BuiltBatch,
    part: int,
    scope: BatchScope,
    credentials: Credentials = None,
) -> PartHandle:
    """Create one part of the built batch (one provider batch), once per scope.

    An intent is recorded before the create, under a claim that only one process holds at
    a time. A rerun after the submit finished returns the persisted handle; one that finds
    an intent without a batch id adopts the batch it made (found by listing the provider's
    batches) or raises `UnreconciledSubmissionError`.

    Args:
        built: The batch from `build_batch`.
        part: Which part (provider batch) of it to create, from 0.
        scope: Where the batch's records live (`BatchScope.here(...)`), the same for each
            of its tasks.
        credentials: A credentials block, its saved name, or None for the provider's env vars.

    Returns:
        The part's `PartHandle`.

    Examples:
        ```python
        scope = BatchScope.here(idempotency_key="2026-11-25")
        handle = submit_part(built, 0, scope, credentials="anthropic")
        ```
    """
    piece = built.parts[part_ref(built, part)[1]]
    with closing(connect(built.provider, credentials)) as provider:
        submission = PartSubmission(
            provider,
            built,
            part,
            scope=scope.name,
            storage=_result_storage(),
            flow_run_id=scope.root_run,
            run_ended=run_ended,
            sleep=stop_signal(scope.run).sleep,  # a run told to stop stops waiting on a claim
        )
        snapshot = submission.run()
    handle = PartHandle(
        provider=built.provider,
        model=built.model,
        digest=built.digest,
        batch_id=snapshot.id,
        custom_ids=list(piece.custom_ids),
        submitted_at=datetime.now(UTC),
        part=part,
        parts=len(built.parts),
        part_digest=piece.digest,
        attempt=built.attempt,
    )
    get_run_logger().info(
        "Part %d/%d is batch %s (%d requests)",
        part + 1,
        len(built.parts),
        snapshot.id,
        len(piece.custom_ids),
    )
    return handle


@task(**_persisted("wait-for-part", ended_cache_key, "BatchSnapshot"))
def wait_for_part(
    handle: PartHandle,
    scope: BatchScope,
    credentials: Credentials = None,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    max_wait_seconds: float | None = None,
    cancel_on_timeout: bool = True,
) -> BatchSnapshot:
    """Sleep-poll until the part's batch ends, logging status changes and progress.

    Overloads and outages of the status endpoint (429, 5xx, lost connections) do not end
    the wait: polling goes on with backoff, each failure logged and shown in the progress
    artifact, until `max_wait_seconds`. After it the provider batch is cancelled (if
    `cancel_on_timeout`) and `BatchTimeoutError` fails the task. If the flow run is cancelled
    meanwhile (SIGTERM from the worker, or `stop_waiting`), the batch is cancelled too. The
    final snapshot is persisted, so a rerun does not poll an ended batch again.

    Args:
        handle: The part's handle from `submit_part`.
        scope: The batch's scope, as given to `submit_part`.
        credentials: A credentials block, its saved name, or None for the provider's env vars.
        poll_interval: Seconds between the first polls; later polls spread out.
        max_poll_interval: The longest sleep between two polls, in seconds.
        max_wait_seconds: Give up after this many seconds (None: never).
        cancel_on_timeout: Cancel the provider batch when giving up.

    Returns:
        The final `BatchSnapshot` of the part.

    Examples:
        ```python
        ended = wait_for_part(handle, scope, credentials="anthropic", max_wait_seconds=3600)
        ```
    """
    logger = get_run_logger()
    stop = stop_signal(scope.run)
    with closing(connect(handle.provider, credentials)) as provider:
        job = BatchJob.unpolled(provider, [handle.batch_id], custom_ids=[handle.custom_ids])
        progress = Progress(handle, scope.name)
        try:
            return job.wait(
                poll_interval=poll_interval,
                max_poll_interval=max_poll_interval,
                timeout=max_wait_seconds,
                on_poll=progress.update,
                on_poll_error=progress.failed,
                sleep=stop.sleep,
            )
        except BatchTimeoutError as exc:
            if not cancel_on_timeout:
                raise
            snapshot = job.cancel()
            logger.warning("Cancelled %s after waiting %ss", handle.batch_id, exc.timeout)
            raise BatchTimeoutError(snapshot, exc.timeout, cancelled=True) from None
        except (TerminationSignal, KeyboardInterrupt):
            logger.warning("Run cancelled while waiting: cancelling %s", handle.batch_id)
            job.cancel()
            raise
        except WaitStopped as stopped:
            if stopped.cancel_batches:
                logger.warning("Run cancelled while waiting: cancelling %s", handle.batch_id)
                job.cancel()
            else:
                logger.warning("Stopped waiting on %s: %s", handle.batch_id, stopped)
            raise


@task(**_persisted("read-part-results", results_cache_key, "BatchResults"))
def read_part_results(
    handle: PartHandle,
    scope: BatchScope,
    credentials: Credentials = None,
    output: OutputType | OutputLike | None = None,
) -> BatchResults:
    """Read every result of the part's batch once per scope, and emit an event for it.

    In a typed batch (`output`) each answer is validated into `parsed`, or is `errored`
    with `invalid_output`; the persisted results keep `parsed` as JSON.

    The event is `batchwork.batch.ended`, with the part's cost. A rerun returns the
    persisted results without contacting the provider; persisted results that no longer
    match their digest (edited by hand) are read from the provider again.

    Args:
        handle: The part's handle from `submit_part`.
        scope: The batch's scope, as given to `submit_part`.
        credentials: A credentials block, its saved name, or None for the provider's env vars.
        output: A typed batch's output type (`BuiltBatch.output`), or None.

    Returns:
        The part's `BatchResults`.

    Examples:
        ```python
        results = read_part_results(handle, scope, credentials="anthropic")
        results["fr"].text
        ```
    """
    storage = _result_storage()
    with closing(connect(handle.provider, credentials)) as provider:
        job = BatchJob.attach(
            provider,
            [handle.batch_id],
            custom_ids=[handle.custom_ids],
            model=handle.model,
            output=output,
        )
        try:
            results = job.collect()  # names its model, "provider/model", for its cost
        except ResultsIntegrityError as exc:
            if storage is not None:
                key = write_partial(storage, scope.name, handle, exc)
                get_run_logger().error(
                    "Results of %s failed their checks; the %d that parsed and %d unreadable "
                    "lines were saved to %s",
                    handle.batch_id,
                    len(exc.partial) if exc.partial else 0,
                    len(exc.bad_lines),
                    key,
                )
            raise
        snapshot = job.snapshot  # its counts settled by the read (see BatchJob.collect)
    emit_ended(handle, snapshot, results, scope.root_run if scope.root_run != scope.run else None)
    get_run_logger().info(
        "Read %d results of %s: %s",
        len(results),
        handle.batch_id,
        ", ".join(f"{n} {status.value}" for status, n in results.counts.items() if n),
    )
    return results


@task(name="cancel-part", persist_result=False)
def cancel_part(handle: PartHandle, credentials: Credentials = None) -> BatchSnapshot:
    """Ask the provider to cancel the part's batch if it is still running.

    Args:
        handle: The part's handle from `submit_part`.
        credentials: A credentials block, its saved name, or None for the provider's env vars.

    Returns:
        The batch's `BatchSnapshot` after the request (`cancelling` until it ends).

    Examples:
        ```python
        cancel_part(handle, credentials="anthropic")
        ```
    """
    with closing(connect(handle.provider, credentials)) as provider:
        snapshot = BatchJob.attach(provider, [handle.batch_id]).cancel()
    get_run_logger().info("Cancel requested for %s: %s", handle.batch_id, snapshot.status.value)
    return snapshot
