"""`batch()`, `get_batch()` and `BatchJob`: a batch's whole life in plain Python."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import SecretStr

from batchwork_prefect.core.build import BuiltBatch, RequestLike, build_parts, subset
from batchwork_prefect.core.combined import combine_snapshots
from batchwork_prefect.core.polling import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    is_transient_poll_error,
    next_poll_delay,
    poll_error_delay,
)
from batchwork_prefect.core.results import ResultsAudit, gc_paused, read_results, results_model
from batchwork_prefect.core.retries import retryable
from batchwork_prefect.errors import (
    BatchTimeoutError,
    BatchworkError,
    ConfigurationError,
    PartialSubmissionError,
    ResultsIntegrityError,
    ResultsNotReadyError,
)
from batchwork_prefect.models import (
    JOB_ID_SEPARATOR,
    BatchResult,
    BatchResults,
    BatchSnapshot,
    BatchStatus,
    RequestCounts,
)
from batchwork_prefect.outputs import OutputLike, OutputType, typed, typed_read
from batchwork_prefect.providers import get_provider, split_model
from batchwork_prefect.providers.base import BatchLimits, BatchProvider


class BatchJob:
    """One submitted job: one provider batch, or several when the requests exceeded the limits.

    `id` is the provider's batch id (ids joined by commas for several batches); `status` and
    `request_counts` are the last observed values and cost no network call. `model` is the
    provider's model name where it is known, and names the model of the collected results.
    """

    def __init__(
        self,
        provider: BatchProvider,
        snapshots: Sequence[BatchSnapshot],
        *,
        custom_ids: Sequence[Sequence[str]] | None = None,
        built: BuiltBatch | None = None,
        limits: BatchLimits | None = None,
        owns_provider: bool = True,
        model: str | None = None,
        output: OutputType | OutputLike | None = None,
    ) -> None:
        if not snapshots:
            raise ValueError("a job needs at least one batch")
        self._provider = provider
        self._snapshots = list(snapshots)
        self._custom_ids = [tuple(ids) for ids in custom_ids] if custom_ids is not None else None
        self._built = built  # the requests as sent, for retry_failed(); None when attached
        self._limits = limits or provider.limits
        self._owns_provider = owns_provider
        self.model = model
        self.output = OutputType.of(output) or (built.output if built is not None else None)
        """A typed batch's output type: its results' answers are validated against it."""

    @classmethod
    def attach(
        cls,
        provider: BatchProvider,
        batch_ids: Sequence[str],
        *,
        custom_ids: Sequence[Sequence[str]] | None = None,
        model: str | None = None,
        output: OutputType | OutputLike | None = None,
    ) -> BatchJob:
        """A job over existing batches, each fetched once so `status` is current; with
        `output`, the answers of a typed batch are validated against it when read."""
        if not batch_ids or not all(batch_ids):
            raise ConfigurationError(f"no batch id in {list(batch_ids)!r}")
        for one in batch_ids:  # all of them before the first request, not one by one
            provider.check_batch_id(one)
        typed = OutputType.of(output)  # a bad output type, too, before the first request
        snapshots = [provider.retrieve(one) for one in batch_ids]
        return cls(provider, snapshots, custom_ids=custom_ids, model=model, output=typed)

    @classmethod
    def unpolled(
        cls,
        provider: BatchProvider,
        batch_ids: Sequence[str],
        *,
        custom_ids: Sequence[Sequence[str]] | None = None,
    ) -> BatchJob:
        """A job over existing batches not fetched yet: `wait()`'s first poll fetches them.

        Unlike `attach`, no request is made here, so a wait that starts while the provider
        is overloaded rides that out like any other failed poll.
        """
        for one in batch_ids:
            provider.check_batch_id(one)
        snapshots = [
            BatchSnapshot(
                id=one,
                provider=provider.name,
                status=BatchStatus.IN_PROGRESS,
                request_counts=RequestCounts(),
                provider_status="not yet polled",
            )
            for one in batch_ids
        ]
        return cls(provider, snapshots, custom_ids=custom_ids)

    def __repr__(self) -> str:
        return f"BatchJob(id={self.id!r}, provider={self.provider!r}, status={self.status.value!r})"

    @property
    def id(self) -> str:
        """The provider batch id (several joined by commas)."""
        return JOB_ID_SEPARATOR.join(self.ids)

    @property
    def ids(self) -> tuple[str, ...]:
        """Every provider batch id of the job."""
        return tuple(snapshot.id for snapshot in self._snapshots)

    @property
    def provider(self) -> str:
        """The provider's name, e.g. `"anthropic"`."""
        return self._provider.name

    @property
    def snapshot(self) -> BatchSnapshot:
        """The last observed state of the whole job."""
        return combine_snapshots(self._snapshots)

    @property
    def status(self) -> BatchStatus:
        """The last observed status."""
        return self.snapshot.status

    @property
    def request_counts(self) -> RequestCounts:
        """The last observed request counts."""
        return self.snapshot.request_counts

    def poll(self) -> BatchSnapshot:
        """Ask the provider for the current state of every batch still running.

        If some batches cannot be fetched for a transient reason (`is_transient_poll_error`),
        the others are still polled and their new states kept; then the first such error is
        raised. A definite error is raised at once.
        """
        failed: BatchworkError | None = None
        snapshots = self._snapshots
        for index, snapshot in enumerate(snapshots):
            if snapshot.status.is_terminal:
                continue
            try:
                snapshots[index] = self._provider.retrieve(snapshot.id)
            except BatchworkError as exc:
                if not is_transient_poll_error(exc):
                    raise
                failed = failed or exc
        if failed is not None:
            raise failed
        return self.snapshot

    def wait(
        self,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = None,
        *,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        on_poll: Callable[[BatchSnapshot], None] | None = None,
        on_poll_error: Callable[[BatchworkError, int], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> BatchSnapshot:
        """Poll until the job ends, with adaptive backoff; returns the final snapshot.

        Polls start `poll_interval` apart and spread out as the wait grows (up to
        `max_poll_interval`), never sooner than the provider's `retry-after`; `on_poll` sees
        every snapshot. After `timeout` seconds `BatchTimeoutError` is raised (with the last
        snapshot seen) and the batch is left running.

        A poll that fails transiently (overloaded, rate limited, 5xx, unreachable: see
        `is_transient_poll_error`), after the transport's own retries, does not end the
        wait: polling goes on with backoff (`poll_error_delay`) until `timeout`, and
        `on_poll_error(error, failed_polls_in_a_row)` is called before each such sleep.
        Definite errors (401/403, 404, other 4xx, malformed answers) are raised at once.
        """
        started = clock()
        failures = 0
        while True:
            try:
                snapshot = self.poll()
            except BatchworkError as exc:
                if not is_transient_poll_error(exc):
                    raise
                failures += 1
                elapsed = clock() - started
                if timeout is not None and elapsed >= timeout:
                    raise BatchTimeoutError(self.snapshot, timeout) from exc
                delay = poll_error_delay(
                    failures,
                    poll_interval=poll_interval,
                    max_poll_interval=max_poll_interval,
                    retry_after=self.snapshot.retry_after,
                    random_fraction=random.random(),
                )
                if on_poll_error is not None:
                    on_poll_error(exc, failures)
            else:
                failures = 0
                if on_poll is not None:
                    on_poll(snapshot)
                if snapshot.status.is_terminal:
                    return snapshot
                elapsed = clock() - started
                if timeout is not None and elapsed >= timeout:
                    raise BatchTimeoutError(snapshot, timeout)
                delay = next_poll_delay(
                    elapsed,
                    poll_interval=poll_interval,
                    max_poll_interval=max_poll_interval,
                    retry_after=snapshot.retry_after,
                    random_fraction=random.random(),
                )
            if timeout is not None:
                delay = min(delay, timeout - elapsed)
            sleep(delay)

    def results(self) -> Generator[BatchResult, None, None]:
        """Stream the results of the ended job, in the provider's order, in bounded memory.

        After the last result, `ResultsIntegrityError` is raised if any line was malformed or
        repeated, a submitted request has no result, or the counts disagree.
        """
        audit = ResultsAudit()
        output = self.output
        try:
            for result in read_results(self._provider, self._ended(), audit, self._custom_ids):
                yield result if output is None else typed(result, output)
        finally:  # a stream left early still settles the batches it read to their end
            self._settle(audit)
        if audit.problems:
            raise ResultsIntegrityError(audit.problems, bad_lines=audit.bad_lines)

    def collect(self) -> BatchResults:
        """Read every result into a `BatchResults` (its `model` "provider/model" if known).

        On an integrity problem, `ResultsIntegrityError.partial` holds all that did parse.
        """
        audit = ResultsAudit()
        snapshots = self._ended()
        try:
            with gc_paused():
                # Every result read first, then every answer validated: one pass of the
                # validator alone costs a quarter less than validating each answer as it is read.
                read = list(read_results(self._provider, snapshots, audit, self._custom_ids))
                results = typed_read(read, self.output)
        finally:
            self._settle(audit)
        collected = BatchResults.model_construct(
            batch_ids=list(self.ids),
            results=results,
            model=results_model(self._provider, self.model),
        )
        if audit.problems:
            raise ResultsIntegrityError(
                audit.problems, partial=collected, bad_lines=audit.bad_lines
            )
        return collected

    def retry_failed(self, results: BatchResults) -> BatchJob | None:
        """Submit again, as a new job, the requests of `results` that failed for a passing
        reason (`retryable`: expired, or errored by an overload or a fault on the provider's
        side, or a typed batch's `invalid_output`), with the same `custom_id`s and params
        (and output type); None when there are none.

        Merge its results over these with `results.merge(retry.collect())`; each merged
        result counts its `attempts`. Only a job made by `batch()` (or a retry) holds the
        requests it sent. The retry is split by this job's limits and uses its connections:
        close this job (or leave its `with` block) once its retries are done.
        """
        if self._built is None:
            raise ConfigurationError(
                "this job does not hold the requests it sent (it was attached by id): submit "
                "the failed ones again with batch(), or retry a job that batch() returned"
            )
        again = retryable(results.results)
        if not again:
            return None
        retry = submit_built(self._provider, subset(self._built, again, self._limits), self._limits)
        retry._owns_provider = False
        return retry

    def cancel(self) -> BatchSnapshot:
        """Ask the provider to cancel every batch of the job that is still running."""
        self._snapshots = [
            snapshot if snapshot.status.is_terminal else self._provider.cancel(snapshot.id)
            for snapshot in self._snapshots
        ]
        return self.snapshot

    def close(self) -> None:
        """Release the job's connections (a retry's belong to the job it retried)."""
        if self._owns_provider:
            self._provider.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _settle(self, audit: ResultsAudit) -> None:
        """Take the counts reading settled (OpenAI's `failed` split into errored, expired
        and canceled), so `snapshot` agrees with the results."""
        if audit.settled:
            self._snapshots = [audit.settled.get(s.id, s) for s in self._snapshots]

    def _ended(self) -> list[BatchSnapshot]:
        if not self.snapshot.status.is_terminal:
            self.poll()
        if not self.snapshot.status.is_terminal:
            raise ResultsNotReadyError(
                f"job {self.id} is {self.status.value}; wait() for it to end first"
            )
        return list(self._snapshots)


def batch(
    model: str,
    requests: Iterable[RequestLike],
    defaults: Mapping[str, Any] | None = None,
    *,
    api_key: str | SecretStr | None = None,
    base_url: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | httpx.Timeout | None = None,
    limits: BatchLimits | None = None,
    output: OutputType | OutputLike | None = None,
) -> BatchJob:
    """Validate, build and submit a batch; returns the job without waiting.

    With `output` (a pydantic model class, or a JSON schema as a dict) the batch is typed:
    each request asks for answers of that type in the provider's native structured-output
    form, and each result's answer is validated into `result.parsed` (an answer that does
    not validate is `errored`, `invalid_output`).

    `model` is `"provider/model"`. `defaults` are merged under each request (the request
    wins). Credentials default to the provider's env vars (`ANTHROPIC_API_KEY`,
    `ANTHROPIC_BASE_URL`; `OPENAI_API_KEY`, `OPENAI_BASE_URL`; `GROQ_API_KEY`, ...).
    Requests beyond the provider's limits (or lower `limits`) are split into several
    provider batches, all held by the one job.
    """
    provider_name, model_name = split_model(model)
    provider = get_provider(
        provider_name, api_key=api_key, base_url=base_url, headers=headers, timeout=timeout
    )
    try:
        built = build_parts(provider, model_name, requests, defaults, limits=limits, output=output)
        return submit_built(provider, built, limits)
    except BaseException:
        provider.close()
        raise


def submit_built(
    provider: BatchProvider, built: BuiltBatch, limits: BatchLimits | None = None
) -> BatchJob:
    """Submit each part of a built batch as one provider batch.

    If a later part fails, `PartialSubmissionError` names the batches already created.
    """
    snapshots: list[BatchSnapshot] = []
    for position, part in enumerate(built.parts):
        try:
            snapshots.append(provider.create(part.encoded, digest=part.digest))
        except BatchworkError as exc:
            if not snapshots:
                raise
            raise PartialSubmissionError(
                batch_ids=[snapshot.id for snapshot in snapshots],
                parts_total=len(built.parts),
                failed_part=position,
            ) from exc
    return BatchJob(
        provider,
        snapshots,
        custom_ids=[part.custom_ids for part in built.parts],
        built=built,
        limits=limits,
        model=built.model,
    )
