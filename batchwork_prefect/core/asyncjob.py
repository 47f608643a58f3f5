"""`abatch()`, `aget_batch()` and `AsyncBatchJob`: the core for asyncio code.

Each call runs the synchronous core on a worker thread (`asyncio.to_thread`), so every
policy (transport retries, poll backoff, splitting, the results audit) has one
implementation and the results are the sync API's own; the event loop only awaits.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
from pydantic import SecretStr

from batchwork_prefect.core.build import RequestLike
from batchwork_prefect.core.existing import get_batch
from batchwork_prefect.core.job import BatchJob, batch
from batchwork_prefect.core.polling import DEFAULT_MAX_POLL_INTERVAL, DEFAULT_POLL_INTERVAL
from batchwork_prefect.errors import BatchworkError, WaitStopped
from batchwork_prefect.models import (
    BatchResult,
    BatchResults,
    BatchSnapshot,
    BatchStatus,
    RequestCounts,
)
from batchwork_prefect.outputs import OutputLike, OutputType
from batchwork_prefect.providers.base import BatchLimits

T = TypeVar("T")

RESULTS_CHUNK = 1000
"""Results read per trip to the worker thread by `AsyncBatchJob.results()`."""


async def _in_thread(call: Callable[[], T], stop: threading.Event | None = None) -> T:
    """`call()` on a worker thread. Cancelling the awaiting task sets `stop` and waits for
    the worker to end, so none of the job's work goes on after the await has ended."""
    worker = asyncio.ensure_future(asyncio.to_thread(call))
    try:
        return await asyncio.shield(worker)
    except asyncio.CancelledError:
        if stop is not None:
            stop.set()
        await asyncio.wait([worker])  # at once if sleeping; else when its request returns
        if not worker.cancelled():
            worker.exception()  # retrieved: the cancellation is what the caller sees
        raise


def _on_loop(
    loop: asyncio.AbstractEventLoop, callback: Callable[..., None] | None
) -> Callable[..., None] | None:
    """`callback` called from the worker but run on the event loop's thread; its error
    reaches the wait as in the sync API."""
    if callback is None:
        return None

    async def call(*args: Any) -> None:
        callback(*args)

    def relay(*args: Any) -> None:
        asyncio.run_coroutine_threadsafe(call(*args), loop).result()

    return relay


def _take(stream: Iterator[BatchResult], count: int) -> tuple[list[BatchResult], Exception | None]:
    """Up to `count` results, and the error that ended the stream (kept apart so the
    results read before it are still handed out)."""
    taken: list[BatchResult] = []
    try:
        for result in stream:
            taken.append(result)
            if len(taken) == count:
                break
    except Exception as exc:  # raised again, after the results read before it
        return taken, exc
    return taken, None


class AsyncBatchJob:
    """A `BatchJob` for asyncio code: the same job, its calls awaited.

    Network calls and waits run on worker threads, never on the event loop. Cancelling an
    awaited call ends it: a wait sleeping between polls stops at once, a request in flight
    is let finish first. The status properties cost no network call, as on `BatchJob`.
    """

    def __init__(self, job: BatchJob) -> None:
        self.job = job
        """The synchronous job underneath (the same connections and state)."""

    def __repr__(self) -> str:
        return f"Async{self.job!r}"

    @property
    def id(self) -> str:
        """The provider batch id (several joined by commas)."""
        return self.job.id

    @property
    def ids(self) -> tuple[str, ...]:
        """Every provider batch id of the job."""
        return self.job.ids

    @property
    def provider(self) -> str:
        """The provider's name, e.g. `"anthropic"`."""
        return self.job.provider

    @property
    def model(self) -> str | None:
        """The provider's model name, where it is known."""
        return self.job.model

    @property
    def snapshot(self) -> BatchSnapshot:
        """The last observed state of the whole job."""
        return self.job.snapshot

    @property
    def status(self) -> BatchStatus:
        """The last observed status."""
        return self.job.status

    @property
    def request_counts(self) -> RequestCounts:
        """The last observed request counts."""
        return self.job.request_counts

    async def poll(self) -> BatchSnapshot:
        """`BatchJob.poll()`, awaited."""
        return await _in_thread(self.job.poll)

    async def wait(
        self,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = None,
        *,
        max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
        on_poll: Callable[[BatchSnapshot], None] | None = None,
        on_poll_error: Callable[[BatchworkError, int], None] | None = None,
    ) -> BatchSnapshot:
        """`BatchJob.wait()`, awaited: the same polls, backoff and timeout.

        `on_poll` and `on_poll_error` run on the event loop's thread. Cancelling the
        awaiting task stops the polling: no poll is made after it.
        """
        stop = threading.Event()
        loop = asyncio.get_running_loop()

        def sleep(seconds: float) -> None:
            if stop.wait(seconds):
                # the awaiting task was cancelled: the worker stops at its next sleep
                raise WaitStopped("the awaiting task was cancelled", cancel_batches=False)

        def run() -> BatchSnapshot:
            return self.job.wait(
                poll_interval,
                timeout,
                max_poll_interval=max_poll_interval,
                on_poll=_on_loop(loop, on_poll),
                on_poll_error=_on_loop(loop, on_poll_error),
                sleep=sleep,
            )

        return await _in_thread(run, stop)

    async def results(self) -> AsyncIterator[BatchResult]:
        """`BatchJob.results()` as an async iterator, read in chunks on a worker thread;
        `ResultsIntegrityError` comes after the last result, as there."""
        stream = self.job.results()
        try:
            while True:
                taken, error = await _in_thread(lambda: _take(stream, RESULTS_CHUNK))
                for result in taken:
                    yield result
                if error is not None:
                    raise error
                if len(taken) < RESULTS_CHUNK:
                    return
        finally:  # a stream left early still settles the batches it read
            await _in_thread(stream.close)

    async def collect(self) -> BatchResults:
        """`BatchJob.collect()`, awaited."""
        return await _in_thread(self.job.collect)

    async def retry_failed(self, results: BatchResults) -> AsyncBatchJob | None:
        """`BatchJob.retry_failed()`, awaited: the retry as an `AsyncBatchJob`, or None."""
        retry = await _in_thread(lambda: self.job.retry_failed(results))
        return AsyncBatchJob(retry) if retry is not None else None

    async def cancel(self) -> BatchSnapshot:
        """`BatchJob.cancel()`, awaited."""
        return await _in_thread(self.job.cancel)

    async def close(self) -> None:
        """Release the job's connections (a retry's belong to the job it retried)."""
        await _in_thread(self.job.close)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()


async def abatch(
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
) -> AsyncBatchJob:
    """`batch()`, awaited: validate, build and submit on a worker thread; returns the job.

    A cancellation during the submission is raised once the submission has ended; the
    batches it made are left running (find them with `list_batches`).
    """
    return await _new_job(
        lambda: batch(
            model,
            requests,
            defaults,
            api_key=api_key,
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            limits=limits,
            output=output,
        )
    )


async def aget_batch(
    batch_id: str | Sequence[str],
    provider: str = "anthropic",
    *,
    api_key: str | SecretStr | None = None,
    base_url: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | httpx.Timeout | None = None,
    model: str | None = None,
    output: OutputType | OutputLike | None = None,
) -> AsyncBatchJob:
    """`get_batch()`, awaited: a job for existing provider batch ids."""
    return await _new_job(
        lambda: get_batch(
            batch_id,
            provider,
            api_key=api_key,
            base_url=base_url,
            headers=headers,
            timeout=timeout,
            model=model,
            output=output,
        )
    )


async def _new_job(make: Callable[[], BatchJob]) -> AsyncBatchJob:
    """The job `make()` returns on a worker thread; if the awaiting task is cancelled
    meanwhile, the job made is closed (nobody holds it) and the cancellation raised."""
    made: list[BatchJob] = []

    def run() -> BatchJob:
        made.append(make())
        return made[-1]

    try:
        return AsyncBatchJob(await _in_thread(run))
    except asyncio.CancelledError:
        for job in made:
            job.close()
        raise
