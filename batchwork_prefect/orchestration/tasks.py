"""Prefect tasks for each phase of a batch: build, submit, wait, read, cancel.

Each is a thin wrapper over the core. A batch past the provider's limits has several parts;
`submit_batch`, `wait_for_batch` and `read_batch_results` each handle one part, so a flow
maps them over the parts. Submit, wait and read persist their results as JSON under keys
made of the batch's scope (the idempotency key, else the outermost flow run's id and the
call site's `batch_name`), the batch's digest and the part, so a rerun resumes instead of
paying again, and a rerun after the read calls no provider at all (see `persistence`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from contextlib import closing
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import fsspec
import orjson
from prefect import get_run_logger, task
from prefect.artifacts import (
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext, TaskRunContext
from prefect.events import emit_event
from prefect.exceptions import TerminationSignal
from prefect.filesystems import WritableFileSystem
from prefect.runtime import flow_run as runtime_flow_run

from batchwork_prefect.core import BatchJob, BuiltBatch
from batchwork_prefect.core import build_batch as build_core
from batchwork_prefect.core.polling import DEFAULT_MAX_POLL_INTERVAL
from batchwork_prefect.errors import (
    BatchTimeoutError,
    BatchworkError,
    ConfigurationError,
    InvalidBatchError,
    ResultsIntegrityError,
)
from batchwork_prefect.models import (
    BatchHandle,
    BatchRequest,
    BatchResults,
    BatchSnapshot,
    BatchStatus,
)
from batchwork_prefect.orchestration.credentials import AnthropicCredentials
from batchwork_prefect.orchestration.persistence import (
    BatchworkSerializer,
    batch_scope,
    ended_key,
    part_of,
    results_key,
    submit_key,
    sync,
    write_partial,
)
from batchwork_prefect.orchestration.submission import PartSubmission, part_ref
from batchwork_prefect.providers import (
    BatchLimits,
    BatchProvider,
    get_format,
    get_provider,
    split_model,
)

Credentials = AnthropicCredentials | str | None
EVENT_ENDED = "batchwork.batch.ended"
_FIRST_ERRORS = 5


def connect(provider: str, credentials: Credentials) -> BatchProvider:
    """A connected provider from a credentials block, a saved block's name, or env vars."""
    if credentials is None:
        return get_provider(provider)
    if provider != "anthropic":
        raise ConfigurationError(f"AnthropicCredentials cannot be used for provider {provider!r}")
    block: AnthropicCredentials = (
        sync(AnthropicCredentials.load(credentials))
        if isinstance(credentials, str)
        else credentials
    )
    return block.get_client()


_ROOTS: dict[str, str] = {}
_ROOTS_LOCK = threading.Lock()


def root_run_id() -> str | None:
    """The id of the outermost flow run this code runs under (None outside any flow).

    A subflow's root is found through its parent task runs (API calls), once per run.
    """
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        task_context = TaskRunContext.get()
        return str(task_context.task_run.flow_run_id) if task_context else None
    run = context.flow_run
    if run.parent_task_run_id is None:
        return str(run.id)
    with _ROOTS_LOCK:
        known = _ROOTS.get(str(run.id))
    if known is None:
        known = str(runtime_flow_run.root_flow_run_id)
        with _ROOTS_LOCK:
            _ROOTS[str(run.id)] = known
    return known


def _scope(idempotency_key: str | None, batch_name: str | None) -> str | None:
    root = root_run_id()
    if idempotency_key is None and root is None:
        return None
    return batch_scope(idempotency_key, root, batch_name)


def _submit_cache_key(context: Any, parameters: dict[str, Any]) -> str | None:
    scope = _scope(parameters.get("idempotency_key"), parameters.get("batch_name"))
    if not scope:
        return None
    return submit_key(scope, part_ref(parameters["built"], parameters.get("part", 0)))


def _ended_cache_key(context: Any, parameters: dict[str, Any]) -> str | None:
    scope = _scope(parameters.get("idempotency_key"), parameters.get("batch_name"))
    return ended_key(scope, part_of(parameters["handle"])) if scope else None


def _results_cache_key(context: Any, parameters: dict[str, Any]) -> str | None:
    scope = _scope(parameters.get("idempotency_key"), parameters.get("batch_name"))
    return results_key(scope, part_of(parameters["handle"])) if scope else None


def _run_ended(flow_run_id: str) -> bool:
    """Whether a flow run has ended, so a claim it holds is free (unknown: it has not)."""
    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(flow_run_id)).state
    except Exception:  # the server is unsure or the id unknown: keep waiting on the claim
        return False
    return state is not None and state.is_final()


def _result_storage() -> WritableFileSystem | None:
    context = TaskRunContext.get()
    return context.result_store.result_storage if context is not None else None


@task(name="load-requests", persist_result=False)
def load_requests(path: str) -> list[dict[str, Any]]:
    """The requests in a JSONL file, one `BatchRequest` object per line (blank lines skipped).

    `path` is a local path or any fsspec URL the worker can read (`s3://...` with s3fs). Lines
    that are not JSON objects are all reported together as one `InvalidBatchError`.
    """
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        with fsspec.open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    problems.append(f"{path}:{number}: not JSON ({exc})")
                    continue
                if not isinstance(row, dict):
                    problems.append(f"{path}:{number}: not a JSON object")
                    continue
                rows.append(row)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise ConfigurationError(f"cannot read requests from {path!r}: {exc}") from None
    if problems:
        raise InvalidBatchError(problems)
    get_run_logger().info("Loaded %d requests from %s", len(rows), path)
    return rows


@task(name="build-batch", persist_result=False)
def build_batch(
    model: str,
    requests: Sequence[BatchRequest | Mapping[str, Any]],
    defaults: Mapping[str, Any] | None = None,
    limits: BatchLimits | None = None,
) -> BuiltBatch:
    """Validate and encode the requests, split by the provider's limits. No network."""
    provider, model_name = split_model(model)
    built = build_core(get_format(provider), model_name, requests, defaults, limits=limits)
    get_run_logger().info(
        "Built %d requests into %d batch(es), digest %s",
        built.request_count,
        len(built.chunks),
        built.digest[:16],
    )
    return built


@task(
    name="submit-batch",
    cache_key_fn=_submit_cache_key,
    result_serializer=BatchworkSerializer(model="BatchHandle"),
    persist_result=True,
    cache_result_in_memory=False,
)
def submit_batch(
    built: BuiltBatch,
    part: int = 0,
    credentials: Credentials = None,
    idempotency_key: str | None = None,
    batch_name: str | None = None,
) -> BatchHandle:
    """Create one part of the built batch (one provider batch), once per scope.

    An intent is recorded before the create, under a claim that only one process holds at
    a time. A rerun after the submit finished returns the persisted handle; one that finds
    an intent without a batch id adopts the batch it made (found by listing the provider's
    batches) or raises `UnreconciledSubmissionError`.

    Args:
        built: The batch from `build_batch`.
        part: Which part (provider batch) of it to create.
        credentials: An AnthropicCredentials block, its saved name, or None for env vars.
        idempotency_key: Shares the batch across flow runs; see `run_batch`.
        batch_name: The call site's name within its root flow run (default: "default").

    Returns:
        The part's `BatchHandle`.
    """
    chunk = built.chunks[part_ref(built, part)[1]]
    context = TaskRunContext.get()
    own_run = str(context.task_run.flow_run_id) if context else None
    with closing(connect(built.provider, credentials)) as provider:
        submission = PartSubmission(
            provider,
            built,
            part,
            scope=_scope(idempotency_key, batch_name),
            storage=_result_storage(),
            flow_run_id=root_run_id(),
            # versions before call-site scopes kept a keyless batch under its own run id
            legacy_scope=own_run if idempotency_key is None else None,
            run_ended=_run_ended,
        )
        snapshot = submission.run()
    handle = BatchHandle(
        provider=built.provider,
        model=built.model,
        digest=built.digest,
        batch_ids=[snapshot.id],
        custom_ids=[list(chunk.custom_ids)],
        submitted_at=datetime.now(UTC),
        part=part,
        parts=len(built.chunks),
        part_digest=chunk.digest,
    )
    get_run_logger().info(
        "Part %d/%d is batch %s (%d requests)",
        part + 1,
        len(built.chunks),
        snapshot.id,
        len(chunk.custom_ids),
    )
    return handle


@task(
    name="wait-for-batch",
    cache_key_fn=_ended_cache_key,
    result_serializer=BatchworkSerializer(model="BatchSnapshot"),
    persist_result=True,
    cache_result_in_memory=False,
)
def wait_for_batch(
    handle: BatchHandle,
    credentials: Credentials = None,
    poll_interval: float = 30.0,
    max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    max_wait_seconds: float | None = None,
    cancel_on_timeout: bool = True,
    idempotency_key: str | None = None,
    batch_name: str | None = None,
) -> BatchSnapshot:
    """Sleep-poll until the handle's batches end, logging status changes and progress.

    Overloads and outages of the status endpoint (429, 5xx, lost connections) do not end
    the wait: polling goes on with backoff, each failure logged and shown in the progress
    artifact, until `max_wait_seconds`. After it the provider batch is cancelled (if
    `cancel_on_timeout`) and `BatchTimeoutError` fails the task. If the flow run is cancelled
    meanwhile (SIGTERM from the worker, or `stop_waiting`), the batch is cancelled too. The
    final snapshot is persisted, so a rerun does not poll an ended batch again.

    Args:
        handle: The part's handle from `submit_batch`.
        credentials: An AnthropicCredentials block, its saved name, or None for env vars.
        poll_interval: Seconds between the first polls; later polls spread out.
        max_poll_interval: The longest sleep between two polls, in seconds.
        max_wait_seconds: Give up after this many seconds (None: never).
        cancel_on_timeout: Cancel the provider batch when giving up.
        idempotency_key: The batch's idempotency key, as given to `submit_batch`.
        batch_name: The call site's name, as given to `submit_batch`.

    Returns:
        The final `BatchSnapshot` of the part.
    """
    logger = get_run_logger()
    stop = _stop_event()
    with closing(connect(handle.provider, credentials)) as provider:
        job = BatchJob.unpolled(provider, handle.batch_ids, custom_ids=handle.custom_ids)
        progress = _Progress(handle)
        try:
            return job.wait(
                poll_interval=poll_interval,
                max_poll_interval=max_poll_interval,
                timeout=max_wait_seconds,
                on_poll=progress.update,
                on_poll_error=progress.failed,
                sleep=lambda seconds: _sleep_unless_stopped(stop, seconds),
            )
        except BatchTimeoutError as exc:
            if not cancel_on_timeout:
                raise
            snapshot = job.cancel()
            logger.warning("Cancelled %s after waiting %ss", handle.job_id, exc.timeout)
            raise BatchTimeoutError(snapshot, exc.timeout, cancelled=True) from None
        except (TerminationSignal, KeyboardInterrupt):
            logger.warning("Run cancelled while waiting: cancelling %s", handle.job_id)
            job.cancel()
            raise
        except WaitStopped as stopped:
            if stopped.cancel_batches:
                logger.warning("Run cancelled while waiting: cancelling %s", handle.job_id)
                job.cancel()
            else:
                logger.warning("Stopped waiting on %s: %s", handle.job_id, stopped)
            raise


class WaitStopped(BatchworkError):
    """The flow run stops its waits: cancelled (the batches are cancelled too) or failed."""

    def __init__(self, message: str, *, cancel_batches: bool) -> None:
        super().__init__(message)
        self.cancel_batches = cancel_batches


class _StopSignal:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.cancel_batches = False


_STOPS: dict[str, _StopSignal] = {}
_STOPS_LOCK = threading.Lock()


def _stop_event() -> _StopSignal:
    context = TaskRunContext.get()
    run = str(context.task_run.flow_run_id) if context is not None else ""
    with _STOPS_LOCK:
        return _STOPS.setdefault(run, _StopSignal())


def stop_waiting(flow_run_id: object, *, cancel_batches: bool) -> None:
    """Make every `wait_for_batch` of the flow run stop; with `cancel_batches`, cancel too.

    A cancelled run cancels its batches; a run failing for another reason (a sibling part
    could not be submitted) leaves them running, for a rerun to resume.
    """
    with _STOPS_LOCK:
        signal = _STOPS.setdefault(str(flow_run_id), _StopSignal())
    signal.cancel_batches = cancel_batches
    signal.event.set()


def forget_waits(flow_run_id: object) -> None:
    """Drop the flow run's stop signal once its waits are over."""
    with _STOPS_LOCK:
        _STOPS.pop(str(flow_run_id), None)


def _sleep_unless_stopped(stop: _StopSignal, seconds: float) -> None:
    if stop.event.wait(seconds):
        reason = "the flow run is being cancelled" if stop.cancel_batches else "the run failed"
        raise WaitStopped(reason, cancel_batches=stop.cancel_batches)


class _Progress:
    """Logs status changes and keeps a progress artifact (finished / total) current."""

    def __init__(self, handle: BatchHandle) -> None:
        self._handle = handle
        self._status: BatchStatus | None = None
        self._finished = -1
        self._percent = 0.0
        self._failing = False
        self._artifact: UUID | None = None

    def failed(self, error: BatchworkError, failures: int) -> None:
        """A poll failed on a passing fault; the wait goes on. Log it and show it."""
        get_run_logger().warning(
            "Polling %s failed %d time(s) in a row; still waiting: %s",
            self._handle.job_id,
            failures,
            error,
        )
        self._show(
            f"{failures} failed poll(s) in a row, retrying: {str(error)[:200]}", failing=True
        )

    def update(self, snapshot: BatchSnapshot) -> None:
        counts = snapshot.request_counts
        if snapshot.status is not self._status:
            get_run_logger().info(
                "Batch %s is %s (%d/%d finished)",
                self._handle.job_id,
                snapshot.status.value,
                counts.finished,
                counts.total,
            )
            self._status = snapshot.status
        if counts.finished == self._finished and self._artifact is not None and not self._failing:
            return
        self._finished = counts.finished
        self._percent = 100.0 * counts.finished / counts.total if counts.total else 0.0
        self._show(f"{counts.finished}/{counts.total} finished")

    def _show(self, note: str, *, failing: bool = False) -> None:
        self._failing = failing  # a failure shown is replaced by the next good poll
        description = f"{self._handle.job_id}: {note}"
        if self._artifact is None:
            self._artifact = sync(create_progress_artifact(self._percent, description=description))
        else:
            update_progress_artifact(self._artifact, self._percent, description=description)


@task(
    name="read-batch-results",
    cache_key_fn=_results_cache_key,
    result_serializer=BatchworkSerializer(model="BatchResults"),
    persist_result=True,
    cache_result_in_memory=False,
)
def read_batch_results(
    handle: BatchHandle,
    credentials: Credentials = None,
    idempotency_key: str | None = None,
    batch_name: str | None = None,
) -> BatchResults:
    """Read every result of the handle's batches once per scope, and emit an event for each.

    The event is `batchwork.batch.ended`, one per provider batch. A rerun returns the
    persisted results without contacting the provider; persisted results that no longer
    match their digest (edited by hand) are read from the provider again.

    Args:
        handle: The part's handle from `submit_batch`.
        credentials: An AnthropicCredentials block, its saved name, or None for env vars.
        idempotency_key: The batch's idempotency key, as given to `submit_batch`.
        batch_name: The call site's name, as given to `submit_batch`.

    Returns:
        The part's `BatchResults`.
    """
    scope = _scope(idempotency_key, batch_name)
    storage = _result_storage()
    with closing(connect(handle.provider, credentials)) as provider:
        job = BatchJob.attach(provider, handle.batch_ids, custom_ids=handle.custom_ids)
        try:
            results = job.collect()
        except ResultsIntegrityError as exc:
            if scope and storage is not None:
                key = write_partial(storage, scope, handle, exc)
                get_run_logger().error(
                    "Results of %s failed their checks; the %d that parsed and %d unreadable "
                    "lines were saved to %s",
                    handle.job_id,
                    len(exc.partial) if exc.partial else 0,
                    len(exc.bad_lines),
                    key,
                )
            raise
        snapshot = job.snapshot
    _emit_ended(handle, snapshot)
    get_run_logger().info(
        "Read %d results of %s: %s",
        len(results),
        handle.job_id,
        ", ".join(f"{n} {status.value}" for status, n in results.counts.items() if n),
    )
    return results


def _emit_ended(handle: BatchHandle, snapshot: BatchSnapshot) -> None:
    for part in snapshot.parts or (snapshot,):
        emit_event(
            event=EVENT_ENDED,
            resource={
                "prefect.resource.id": f"batchwork.batch.{part.id}",
                "prefect.resource.name": part.id,
                "batchwork.provider": handle.provider,
            },
            payload={
                "batch_id": part.id,
                "job_id": handle.job_id,
                "provider": handle.provider,
                "model": handle.model,
                "status": part.status.value,
                "request_counts": part.request_counts.model_dump(),
                "digest": handle.digest,
                "part": handle.part,
                "parts": handle.parts,
            },
        )


def publish_summary(handles: Sequence[BatchHandle], results: BatchResults) -> None:
    """A table artifact of the batch's outcome: ids, counts, tokens and the first errors."""
    usage = results.usage
    rows: list[dict[str, Any]] = [
        {"field": "batch ids", "value": ", ".join(results.batch_ids)},
        {"field": "parts", "value": len(handles)},
        *({"field": status.value, "value": n} for status, n in results.counts.items()),
        {"field": "input tokens", "value": usage.input_tokens},
        {"field": "output tokens", "value": usage.output_tokens},
        {"field": "cache read tokens", "value": usage.cache_read_input_tokens},
        {"field": "cache creation tokens", "value": usage.cache_creation_input_tokens},
    ]
    for result in results.by_status("errored")[:_FIRST_ERRORS]:
        if result.error is not None:
            rows.append(
                {
                    "field": f"error {result.custom_id}",
                    "value": f"{result.error.type}: {result.error.message}"[:300],
                }
            )
    digest = handles[0].digest[:16] if handles else ""
    create_table_artifact(rows, description=f"Results of batch {digest} ({len(results)})")


@task(name="cancel-batch", persist_result=False)
def cancel_batch(handle: BatchHandle, credentials: Credentials = None) -> BatchSnapshot:
    """Ask the provider to cancel every batch of the job that is still running."""
    with closing(connect(handle.provider, credentials)) as provider:
        snapshot = BatchJob.attach(provider, handle.batch_ids).cancel()
    get_run_logger().info("Cancel requested for %s: %s", handle.job_id, snapshot.status.value)
    return snapshot
