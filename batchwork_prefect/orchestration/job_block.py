"""A batch as a Prefect `JobBlock`: `MessageBatchJob.trigger()` gives a `MessageBatchJobRun`.

`run_batch`'s durable machinery, phase by phase, its tasks called one by one (so a block
works inside a flow and outside one): `trigger` builds the batch and creates each part once
(`submit_part`: claims, intents, a lost create reconciled); `wait_for_completion` polls
each part until it ended (`wait_for_part`) and sends the retry rounds; `fetch_result`
reads every part (`read_part_results`) and points the scope's `latest.json` at them. Retry
rounds are part of waiting: `fetch_result` never creates a provider batch nor waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from contextlib import suppress
from typing import Annotated, Any, cast

from prefect.blocks.abstract import JobBlock, JobRun
from prefect.exceptions import TerminationSignal
from prefect.utilities.annotations import quote
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl

from batchwork_prefect.core import BuiltBatch
from batchwork_prefect.core.polling import DEFAULT_MAX_POLL_INTERVAL, DEFAULT_POLL_INTERVAL
from batchwork_prefect.errors import (
    BatchTimeoutError,
    BatchworkError,
    ConfigurationError,
    ResultsNotReadyError,
)
from batchwork_prefect.models import BatchResults, BatchSnapshot, PartHandle
from batchwork_prefect.orchestration._sync import async_dispatch
from batchwork_prefect.orchestration.checks import check_run
from batchwork_prefect.orchestration.credentials import AnyCredentials
from batchwork_prefect.orchestration.flows import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_WAIT,
    part_limits,
)
from batchwork_prefect.orchestration.intents import stored_parts
from batchwork_prefect.orchestration.persistence import read_optional, round_key
from batchwork_prefect.orchestration.rounds import (
    Round,
    RoundOptions,
    check_left,
    next_round,
    record_rounds,
    round_results,
)
from batchwork_prefect.orchestration.scopes import BatchScope, call_site
from batchwork_prefect.orchestration.tasks import (
    build_batch,
    cancel_part,
    load_requests,
    read_part_results,
    submit_part,
    wait_for_part,
)
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers import BatchLimits, get_format


def _as_dicts(requests: Any) -> Any:
    """`BatchRequest`s as the dicts a block stores; each request is checked at trigger."""
    if isinstance(requests, list):
        return [
            one.model_dump(exclude_unset=True) if isinstance(one, BaseModel) else one
            for one in requests
        ]
    return requests


class MessageBatchJob(JobBlock[BatchResults]):
    """A message batch as a Prefect job: trigger it, wait for it, fetch its results.

    The batch runs on `run_batch`'s durable machinery: each part is created once per scope
    (a second `trigger()` with the same `idempotency_key` resumes the same provider batches),
    retry rounds send again what failed for passing reasons, and the results are persisted
    where `load_batch_results(idempotency_key)` finds them. Without an `idempotency_key` the
    batch belongs to the outermost flow run and its call site, so it must be triggered
    inside a flow.

    Attributes:
        model: The model as 'provider/model', e.g. anthropic/claude-opus-4-8.
        requests: The requests (dicts or `BatchRequest`s); give these or requests_path.
        requests_path: A JSONL file of requests the worker reads, local or an fsspec URL.
        defaults: Messages API fields merged under every request (max_tokens, system, ...).
        credentials: The provider's credentials block; empty: the provider's env vars.
        idempotency_key: Makes the batch durable across flow runs and processes.
        batch_name: The call site's name within the outermost flow run (no idempotency_key).
        output: A JSON schema that every answer must match (a typed batch).
        max_attempts: How many times a request may be sent in all (retry rounds).
        allow_failed: Fail fetch_result when more requests than this are left failing.
        poll_interval: Seconds between the first polls; later polls spread out.
        max_poll_interval: The longest sleep between two polls, in seconds.
        max_wait_seconds: Stop waiting on a round after this many seconds (empty: never).
        cancel_on_timeout: Cancel the round's provider batches when max_wait_seconds runs out.
        max_requests_per_batch: Split into provider batches of at most this many requests.
        result_storage: A saved storage block's 'type/name'; empty: the default storage.

    Example:
        Trigger a saved job, wait for it and fetch its results:
        ```python
        from batchwork_prefect import MessageBatchJob

        job = MessageBatchJob.load("BLOCK_NAME")
        run = job.trigger()
        run.wait_for_completion()
        results = run.fetch_result()
        ```
    """

    _block_type_name = "Message Batch Job"
    _block_type_slug = "message-batch-job"
    _documentation_url = HttpUrl(
        "https://docs.prefect.io/v3/api-ref/python/prefect-blocks-abstract"
    )

    model_config = ConfigDict(hide_input_in_errors=True)  # never quote a refused key

    model: str = Field(description="The model as 'provider/model', e.g. openai/gpt-4o-mini.")
    requests: Annotated[list[dict[str, Any]] | None, BeforeValidator(_as_dicts)] = Field(
        None, description="The requests; give these or requests_path."
    )
    requests_path: str | None = Field(None, description="A JSONL file of requests to read.")
    defaults: dict[str, Any] | None = Field(None, description="Fields under every request.")
    credentials: AnyCredentials | None = Field(None, description="The provider's credentials.")
    idempotency_key: str | None = Field(None, description="Makes the batch durable across runs.")
    batch_name: str | None = Field(None, description="The call site's name in the flow run.")
    output: dict[str, Any] | None = Field(None, description="A JSON schema for every answer.")
    max_attempts: int = Field(
        DEFAULT_MAX_ATTEMPTS, ge=1, le=10, description="How often a request may be sent."
    )
    allow_failed: float | None = Field(
        None, ge=0, description="How many requests may be left failing (below 1: a share)."
    )
    poll_interval: float = Field(
        DEFAULT_POLL_INTERVAL, gt=0, le=3600, description="Seconds between the first polls."
    )
    max_poll_interval: float = Field(
        DEFAULT_MAX_POLL_INTERVAL, gt=0, le=3600, description="The longest sleep between polls."
    )
    max_wait_seconds: float | None = Field(
        DEFAULT_MAX_WAIT, ge=0, description="Stop waiting on a round after this many seconds."
    )
    cancel_on_timeout: bool = Field(True, description="Cancel the batches when the wait ends.")
    max_requests_per_batch: int | None = Field(
        None, ge=1, description="At most this many requests per provider batch."
    )
    result_storage: str | None = Field(None, description="A saved storage block's 'type/name'.")

    async def atrigger(self) -> MessageBatchJobRun:
        """`trigger` for async code: the same work, in a worker thread."""
        return await asyncio.to_thread(self._trigger)

    @async_dispatch(atrigger)
    def trigger(self) -> MessageBatchJobRun:  # type: ignore[override]
        """Build the batch and create each of its parts once (the `submit_part` task).

        Every request is checked first: a bad one raises `InvalidBatchError` (listing each
        problem) before anything is sent. A part created earlier in the scope (the same
        `idempotency_key`) is resumed, never created again.

        Returns:
            The `MessageBatchJobRun` of this batch.

        Examples:
            ```python
            run = MessageBatchJob(model="anthropic/claude-opus-4-8",
                                  requests=[{"prompt": "Hi"}], idempotency_key="k").trigger()
            ```
        """
        return self._trigger()

    def _trigger(self) -> MessageBatchJobRun:
        typed = OutputType.of(self.output)  # a bad schema fails here, before anything is sent
        if (self.requests is None) == (self.requests_path is None):
            raise ConfigurationError("give exactly one of requests and requests_path")
        endpoint, storage = check_run(self.model, self.credentials, self.result_storage, None, None)
        # worked out once, here, and passed to every task of the batch
        scope = BatchScope.here(self.idempotency_key, self.batch_name or call_site())
        listed = (
            self.requests if self.requests is not None else load_requests(str(self.requests_path))
        )
        limits = part_limits(self.model, self.max_requests_per_batch)
        built = build_batch(self.model, quote(listed), self.defaults, limits=limits, output=typed)
        for line in stored_parts(storage, scope.name, built, endpoint):
            self.logger.info(line)
        options = RoundOptions(
            credentials=self.credentials,
            storage_options={"result_storage": self.result_storage} if self.result_storage else {},
            poll_interval=self.poll_interval,
            max_poll_interval=max(self.max_poll_interval, self.poll_interval),
            max_wait_seconds=self.max_wait_seconds,
            cancel_on_timeout=self.cancel_on_timeout,
            release=False,
            poller_credentials=None,
            storage=storage,
            scope=scope,
        )
        run = MessageBatchJobRun(self, built, limits or get_format(built.provider).limits, options)
        run._send(built)
        return run


class MessageBatchJobRun(JobRun[BatchResults]):  # not a block
    """A triggered `MessageBatchJob`: its parts, waited for and read on request."""

    def __init__(
        self, job: MessageBatchJob, built: BuiltBatch, limits: BatchLimits, options: RoundOptions
    ) -> None:
        self._job = job
        self._built = built
        self._limits = limits
        self._options = options
        self._sent: list[tuple[BuiltBatch, list[PartHandle]]] = []  # each round's parts
        self._ended: dict[str, BatchSnapshot] = {}  # the parts' ends, for the summary's wait
        self._completed = False
        self._results: BatchResults | None = None

    @property
    def scope(self) -> str:
        """Where the batch's records live (`load_batch_results(scope)` reads them)."""
        return self._options.scope.name

    @property
    def batch_ids(self) -> list[str]:
        """The provider batches created so far, every round's, in order."""
        return [handle.batch_id for _, handles in self._sent for handle in handles]

    def __repr__(self) -> str:
        return (
            f"MessageBatchJobRun(scope={self.scope!r}, batch_ids={self.batch_ids!r}, "
            f"completed={self._completed})"
        )

    async def await_for_completion(self) -> None:
        """`wait_for_completion` for async code: the same work, in a worker thread."""
        await asyncio.to_thread(self._wait)

    @async_dispatch(await_for_completion)
    def wait_for_completion(self) -> None:  # type: ignore[override]
        """Poll every part until it ended (`wait_for_part`), then send the retry rounds.

        Each round's parts are polled with the core's policy (`poll_interval` spreading out
        to `max_poll_interval`; failed polls ridden out). When a round may be followed by
        another (`max_attempts`, or a round an earlier run recorded), its results are read
        and persisted, and the requests that failed for passing reasons are sent again; it
        returns once the last round has ended.

        Raises:
            BatchTimeoutError: a round waited longer than `max_wait_seconds`; with
                `cancel_on_timeout` every part of the round still running is cancelled.

        Examples:
            ```python
            run.wait_for_completion()
            ```
        """
        self._wait()

    async def afetch_result(self) -> BatchResults:
        """`fetch_result` for async code: the same work, in a worker thread."""
        return await asyncio.to_thread(self._fetch)

    @async_dispatch(afetch_result)
    def fetch_result(self) -> BatchResults:  # type: ignore[override]
        """Read every part's results (`read_part_results`), persist them and return them.

        A part read earlier (by `wait_for_completion`, or by an earlier run in the scope)
        comes from storage without a provider call. The scope's `latest.json` then points at
        every round's results, so `load_batch_results(scope)` returns the same.

        Returns:
            The `BatchResults`, one per request (its last attempt's).

        Raises:
            ResultsNotReadyError: `wait_for_completion` has not completed yet.
            IncompleteResultsError: more requests left failing than `allow_failed` allows
                (the results are persisted first).

        Examples:
            ```python
            results = run.fetch_result()
            results["fr"].text
            ```
        """
        return self._fetch()

    def _send(self, built: BuiltBatch) -> None:
        """Create each part of one round once (or find the batch made earlier)."""
        options = self._options
        submit = submit_part.with_options(**options.storage_options)
        quoted = cast(BuiltBatch, quote(built))  # not walked by Prefect for futures
        handles = [
            submit(quoted, part, options.scope, options.credentials)
            for part in range(len(built.parts))
        ]
        self._sent.append((built, handles))

    def _wait(self) -> None:
        while not self._completed:
            built, handles = self._sent[-1]
            self._wait_round(handles)
            recorded = round_key(self.scope, self._built.digest, built.attempt + 1)
            if built.attempt >= self._job.max_attempts and (
                read_optional(self._options.storage, recorded) is None  # no earlier run's round
            ):
                self._completed = True
                break
            rounds = self._read()
            merged = _merged(rounds)
            following = next_round(
                self._built, rounds, merged, self._limits, self._job.max_attempts, self._options
            )
            if following is None:
                self._completed = True
            else:
                self._send(following)

    def _wait_round(self, handles: Sequence[PartHandle]) -> None:
        """Wait for each part of one round in turn, all within the round's max_wait_seconds."""
        options = self._options
        limit = options.max_wait_seconds
        deadline = None if limit is None else time.monotonic() + limit
        wait = wait_for_part.with_options(**options.storage_options)
        for index, handle in enumerate(handles):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                self._ended[handle.batch_id] = wait(
                    handle,
                    options.scope,
                    options.credentials,
                    poll_interval=options.poll_interval,
                    max_poll_interval=options.max_poll_interval,
                    max_wait_seconds=left,
                    cancel_on_timeout=options.cancel_on_timeout,
                )
            except (TerminationSignal, KeyboardInterrupt, BatchTimeoutError) as exc:
                # the awaited part was cancelled by its wait; the later ones too, as run_batch
                if not isinstance(exc, BatchTimeoutError) or options.cancel_on_timeout:
                    self._cancel(handles[index + 1 :])
                raise

    def _cancel(self, handles: Sequence[PartHandle]) -> None:
        cancel = cancel_part.with_options(**self._options.storage_options)
        for handle in handles:
            with suppress(BatchworkError):  # one that ended meanwhile cannot be cancelled
                cancel(handle, self._options.credentials)

    def _read(self) -> list[Round]:
        """Every round sent so far, read: from storage where it was read before."""
        options = self._options
        read = read_part_results.with_options(**options.storage_options)
        rounds = []
        for built, handles in self._sent:
            parts = [
                read(handle, options.scope, options.credentials, built.output) for handle in handles
            ]
            results = round_results(parts, built)
            ended = [self._ended[one.batch_id] for one in handles if one.batch_id in self._ended]
            rounds.append(Round(built.attempt, handles, results, ended))
        return rounds

    def _fetch(self) -> BatchResults:
        if not self._completed:
            raise ResultsNotReadyError(
                f"the batch of scope {self.scope!r} has not completed: call "
                "wait_for_completion() (await_for_completion() in async code) first; it "
                "returns once every part has ended"
            )
        if self._results is None:
            rounds = self._read()
            results = _merged(rounds)
            record_rounds(self._built, rounds, results, self._options)
            check_left(rounds, results, self._job.allow_failed)
            self._results = results
        return self._results


def _merged(rounds: Sequence[Round]) -> BatchResults:
    """One result per request: each round's answers over the ones before."""
    return BatchResults.of_rounds([one.results for one in rounds])
