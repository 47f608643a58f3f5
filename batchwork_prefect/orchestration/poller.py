"""The managed poller: watches the batches of released runs and resumes each run once.

`batchwork-prefect poller` runs `Poller.run` beside the workers (a service, or a
deployment's long-running flow). Each step it:

1. reads the wait records (`waits`) every `scan_seconds`, so runs released meanwhile join;
2. polls the batches whose next poll has come, most overdue first, at most
   `max_polls_per_second`, and writes each one's next poll time back (the schedule is
   `wait`'s: it grows with the wait, so the end is noticed within 10% of the run time);
3. resumes every run whose batches have all ended, whose deadline has passed, or whose
   batch failed for good (the run then reports it), and deletes its records;
4. drops the records of runs that ended without it (a run cancelled while suspended has
   its running batches cancelled, as a cancelled in-process wait does).

It keeps no state of its own: kill it at any point and start it again, or run two. Prefect
resumes a suspended run only once (a second resume finds it no longer paused), and a resume
names the suspension it was meant for, so a stale one cannot wake a later suspension.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterState
from prefect.client.schemas.filters import FlowRunFilterStateType as StateTypeFilter
from prefect.client.schemas.objects import FlowRun, State, StateType
from pydantic import Field

from batchwork_prefect.core.polling import is_transient_poll_error
from batchwork_prefect.errors import BatchworkError, ConfigurationError
from batchwork_prefect.orchestration.credentials import connect
from batchwork_prefect.orchestration.waits import (
    PAGE,
    RunView,
    Verdict,
    WaitRecord,
    WaitStore,
    after_failed_poll,
    after_poll,
    by_run,
    pollable,
)
from batchwork_prefect.providers import BatchProvider

logger = logging.getLogger("batchwork.poller")

DEFAULT_SCAN_SECONDS = 10.0
DEFAULT_MAX_POLLS_PER_SECOND = 20.0
DEFAULT_CONCURRENCY = 4
MIN_SLEEP = 0.25
_ENDED_RUN_STATES = [
    StateType.COMPLETED,
    StateType.FAILED,
    StateType.CANCELLED,
    StateType.CANCELLING,
    StateType.CRASHED,
]


@dataclass
class StepReport:
    """What one step did: for logs, tests and the bench."""

    polled: int = 0
    resumed: int = 0
    dropped: int = 0
    pending: int = 0
    next_in: float = 0.0

    def counts(self) -> dict[str, int]:
        return {
            "polled": self.polled,
            "resumed": self.resumed,
            "dropped": self.dropped,
            "pending": self.pending,
        }


class Poller:
    """Polls the batches of suspended `run_batch` runs and resumes the runs."""

    def __init__(
        self,
        client: SyncPrefectClient,
        *,
        scan_seconds: float = DEFAULT_SCAN_SECONDS,
        max_polls_per_second: float = DEFAULT_MAX_POLLS_PER_SECOND,
        concurrency: int = DEFAULT_CONCURRENCY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._store = WaitStore(client)
        self._scan_seconds = scan_seconds
        self._rate = max_polls_per_second
        self._clock = clock
        self._records: dict[str, WaitRecord] = {}
        self._runs: dict[str, set[str]] = {}  # run id -> its records' names
        self._queue: list[tuple[float, str]] = []  # (next poll, name); stale entries skipped
        self._in_flight: dict[str, Future[WaitRecord]] = {}
        self._touched: set[str] = set()  # runs whose verdict may have changed
        self._unresumed: dict[str, float] = {}  # ready runs Prefect did not resume yet: when tried
        self._last_scan = float("-inf")
        self._last_step: float | None = None
        self._budget = 0.0
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="batchwork-poll")
        self._local = threading.local()
        self._providers: list[BatchProvider] = []
        self._providers_lock = threading.Lock()

    def run(self, stop: threading.Event) -> None:
        """Step until `stop` is set, sleeping until the next poll is due."""
        logger.info("batchwork poller started (scan every %.0f s)", self._scan_seconds)
        try:
            while not stop.is_set():
                try:
                    report = self.step(settle=False)
                except Exception:  # the Prefect API or the network: try again shortly
                    logger.exception("poller step failed; retrying")
                    stop.wait(min(self._scan_seconds, 5.0))
                    continue
                stop.wait(report.next_in)
        finally:
            self.close()
            logger.info("batchwork poller stopped")

    def step(self, *, scan: bool = False, settle: bool = True) -> StepReport:
        """Rescan if it is time (or `scan`), poll what is due, resume and drop runs.

        Polls run on the pool; with `settle` the step waits for them, else it takes up
        the ones finished since the last step and leaves the rest in flight, so one slow
        answer does not hold the others back."""
        now = self._clock()
        report = StepReport()
        if scan or now - self._last_scan >= self._scan_seconds:
            self._scan(now)
            report.dropped += self._drop_ended_runs()
        report.polled = self._collect(wait=False)
        self._start_polls(now)
        if settle:
            report.polled += self._collect(wait=True)
        report.resumed = self._resume_ready(self._clock())
        report.pending = sum(1 for record in self._records.values() if not record.ended)
        report.next_in = self._next_in(self._clock())
        return report

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._providers_lock:
            for provider in self._providers:
                provider.close()
            self._providers.clear()

    # the records in memory

    def _scan(self, now: float) -> None:
        records = {record.name: record for record in self._store.read_all()}
        for name in self._in_flight:  # their answers are on the way
            if name in self._records:
                records.setdefault(name, self._records[name])
        self._records = records
        self._runs = {}
        for record in records.values():
            self._runs.setdefault(record.run, set()).add(record.name)
        self._queue = [(r.next_poll, r.name) for r in records.values() if pollable(r)]
        heapq.heapify(self._queue)
        self._touched = set(self._runs)
        self._last_scan = now

    def _keep(self, record: WaitRecord) -> None:
        self._records[record.name] = record
        self._runs.setdefault(record.run, set()).add(record.name)
        if pollable(record):
            heapq.heappush(self._queue, (record.next_poll, record.name))
        self._touched.add(record.run)

    def _forget(self, run: str) -> None:
        """Delete the run's records, on the server and here."""
        names = sorted(self._runs.pop(run, set()))
        self._store.delete(names)
        for name in names:
            self._records.pop(name, None)
        self._unresumed.pop(run, None)

    def _view(self, run: str) -> RunView | None:
        records = [self._records[name] for name in self._runs.get(run, ()) if name in self._records]
        return RunView(run, tuple(sorted(records, key=lambda r: r.part))) if records else None

    # polling

    def _start_polls(self, now: float) -> None:
        if self._last_step is not None:
            self._budget = min(self._budget + (now - self._last_step) * self._rate, self._rate)
        else:
            self._budget = self._rate
        self._last_step = now
        while self._queue and self._queue[0][0] <= now and self._budget >= 1:
            when, name = heapq.heappop(self._queue)
            record = self._records.get(name)
            if record is None or record.next_poll != when or not pollable(record):
                continue  # stale: polled or rescheduled since
            if name in self._in_flight:
                continue
            self._budget -= 1
            self._in_flight[name] = self._pool.submit(self._poll, record)

    def _collect(self, *, wait: bool) -> int:
        """Take up finished polls (all of them, with `wait`)."""
        if wait and self._in_flight:
            futures_wait(list(self._in_flight.values()))
        done = [name for name, future in self._in_flight.items() if future.done()]
        for name in done:
            polled = self._in_flight.pop(name).result()
            # written back one by one from here: concurrent writers make SQLite servers
            # answer "database is locked", and Prefect's client then backs off for seconds
            if self._store.update(polled):
                self._keep(polled)
            elif name in self._records:  # the run moved on and deleted it
                record = self._records.pop(name)
                self._runs.get(record.run, set()).discard(name)
        return len(done)

    def _poll(self, record: WaitRecord) -> WaitRecord:
        try:
            snapshot = self._provider(record).retrieve(record.batch_id)
        except ConfigurationError as exc:
            # the poller's own set-up (a block it cannot load, env vars it lacks): the run
            # would poll fine and suspend again, so it is not resumed; retried with backoff
            logger.error("cannot poll %s from this poller: %s", record.batch_id, exc)
            return after_failed_poll(
                record, str(exc)[:500], self._clock(), transient=True, random_fraction=0.0
            )
        except BatchworkError as exc:
            transient = is_transient_poll_error(exc)
            logger.warning(
                "polling %s failed%s: %s",
                record.batch_id,
                "; retrying with backoff" if transient else "; resuming its run to report it",
                exc,
            )
            retry_after = getattr(exc, "retry_after", None)
            return after_failed_poll(
                record,
                str(exc)[:500],
                self._clock(),
                transient=transient,
                retry_after=retry_after if isinstance(retry_after, float) else None,
                random_fraction=random.random(),
            )
        updated = after_poll(
            record,
            snapshot.status,
            self._clock(),
            retry_after=snapshot.retry_after,
            random_fraction=random.random(),
        )
        counts = snapshot.request_counts
        if snapshot.status is not record.status or updated.ended:
            logger.info(
                "batch %s of run %s is %s (%d/%d finished)",
                record.batch_id,
                record.run,
                snapshot.status.value,
                counts.finished,
                counts.total,
            )
        return updated

    def _provider(self, record: WaitRecord) -> BatchProvider:
        providers: dict[tuple[str, str | None], BatchProvider] | None = getattr(
            self._local, "providers", None
        )
        if providers is None:
            providers = self._local.providers = {}
        key = (record.provider, record.credentials)
        provider = providers.get(key)
        if provider is None:
            provider = providers[key] = connect(record.provider, record.credentials)
            with self._providers_lock:
                self._providers.append(provider)
        return provider

    def _next_in(self, now: float) -> float:
        """Until the next poll, scan or retry; between a quarter of a second (wake-ups
        close together are one) and a second."""
        while self._queue:
            when, name = self._queue[0]
            record = self._records.get(name)
            if record is not None and record.next_poll == when and pollable(record):
                break
            heapq.heappop(self._queue)  # stale
        until_scan = self._last_scan + self._scan_seconds - now
        until_poll = self._queue[0][0] - now if self._queue else until_scan
        return max(min(until_scan, until_poll, 1.0), MIN_SLEEP)

    # runs

    def _resume_ready(self, now: float) -> int:
        """Resume the runs whose records say so (those changed since, and those Prefect
        did not take yet, at most once a second each)."""
        retry = {run for run, tried in self._unresumed.items() if now - tried >= 1.0}
        candidates = (self._touched | retry) & set(self._runs)
        self._touched = set()
        ready = []
        for run in candidates:
            view = self._view(run)
            if view is not None and view.verdict(now) is Verdict.RESUME:
                ready.append(view)
        if not ready:
            return 0
        runs = self._read_runs(view.run for view in ready)
        resumed = 0
        for view in ready:
            if self._resume(view, runs.get(view.run)):
                resumed += 1
            elif view.run in self._runs:
                self._unresumed[view.run] = now
        return resumed

    def _resume(self, view: RunView, run: FlowRun | None) -> bool:
        """Resume the run if it is still in the suspension its records describe."""
        if run is None or run.state is None:
            self._forget(view.run)
            return False
        state = run.state
        suspension = view.records[0].suspension
        if state.type is StateType.PAUSED and state.state_details.pause_key == suspension:
            result = self._client.resume_flow_run(UUID(view.run))
            accepted = result.status.value == "ACCEPT"
            if accepted:
                logger.info("resumed run %s: %s", view.run, _why(view, self._clock()))
                self._forget(view.run)
            return accepted
        if state.is_final() and state.timestamp.timestamp() > max(r.written for r in view.records):
            self._forget(view.run)  # it ended without us (cancelled, failed, ...)
        return False

    def _drop_ended_runs(self) -> int:
        """Drop the records of runs that ended after writing them; cancel their batches
        if the run was cancelled."""
        if not self._runs:
            return 0
        ended = self._read_runs(self._runs, states=_ENDED_RUN_STATES).values()
        dropped = 0
        for run in ended:
            view = self._view(str(run.id))
            state = run.state
            if view is None or state is None or not _ended_after(view, state):
                continue
            if state.type in (StateType.CANCELLED, StateType.CANCELLING):
                self._cancel_running(view)
            logger.info("run %s is %s: dropping its wait records", run.id, state.name)
            self._forget(view.run)
            dropped += 1
        return dropped

    def _cancel_running(self, view: RunView) -> None:
        for record in view.records:
            if record.ended:
                continue
            try:
                self._provider(record).cancel(record.batch_id)
                logger.warning("run %s was cancelled: cancelled %s", view.run, record.batch_id)
            except BatchworkError as exc:
                logger.warning("could not cancel %s: %s", record.batch_id, exc)

    def _read_runs(
        self, runs: Iterable[str], *, states: list[StateType] | None = None
    ) -> dict[str, FlowRun]:
        """The flow runs of these ids (only those in `states`, if given), a page at a time."""
        wanted = [UUID(run) for run in runs]
        state = FlowRunFilterState(type=StateTypeFilter(any_=states)) if states else None
        found: dict[str, FlowRun] = {}
        for start in range(0, len(wanted), PAGE):
            page = wanted[start : start + PAGE]
            for run in self._client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=page), state=state),
                limit=len(page),
            ):
                found[str(run.id)] = run
        return found


def _ended_after(view: RunView, state: State) -> bool:
    """Whether the run's state is newer than its records (older ones: a Retry wrote them)."""
    return state.timestamp.timestamp() > max(record.written for record in view.records)


def _why(view: RunView, now: float) -> str:
    if any(record.error for record in view.records):
        return "a batch could not be polled (the run reports why)"
    deadline = view.deadline
    if deadline is not None and now >= deadline and not all(r.ended for r in view.records):
        return "its deadline passed (the run cancels or fails its wait)"
    return "every batch ended (" + ", ".join(_ends(view.records)) + ")"


def _ends(records: Iterable[WaitRecord]) -> list[str]:
    return [f"{record.batch_id} {record.status.value}" for record in records]


# -- as a deployment's flow ----------------------------------------------------------------


@flow(name="batchwork-poller", persist_result=False)
def batchwork_poller(
    scan_seconds: Annotated[float, Field(ge=1)] = DEFAULT_SCAN_SECONDS,
    max_polls_per_second: Annotated[float, Field(gt=0)] = DEFAULT_MAX_POLLS_PER_SECOND,
    concurrency: Annotated[int, Field(ge=1)] = DEFAULT_CONCURRENCY,
    once: bool = False,
) -> dict[str, int]:
    """Run the managed poller inside this flow run until the run is cancelled.

    The same loop as `batchwork-prefect poller`, for running it as a deployment on a worker
    of its own (it holds one slot for as long as it runs). Cancelling the run stops it; it
    keeps no state, so a new run takes up where it was.

    Args:
        scan_seconds: Seconds between two reads of the wait records (new runs join).
        max_polls_per_second: Polls of the providers per second, at most.
        concurrency: Polls in flight at once.
        once: Do one step (read, poll what is due, resume) and return.

    Returns:
        With `once`, what the step did: polled, resumed, dropped, pending.

    Examples:
        ```python
        batchwork_poller.deploy("batchwork-poller", work_pool_name="batchwork-poller")
        ```
    """
    forward = _ToRunLogger(get_run_logger())  # the poller's lines in the run's logs (the UI)
    logger.addHandler(forward)
    logger.setLevel(logging.INFO)
    try:
        with get_client(sync_client=True) as client:
            report = serve(
                client,
                scan_seconds=scan_seconds,
                max_polls_per_second=max_polls_per_second,
                concurrency=concurrency,
                once=once,
            )
    finally:
        logger.removeHandler(forward)
    return dict(report.counts()) if report is not None else {}


def serve(
    client: SyncPrefectClient,
    *,
    scan_seconds: float = DEFAULT_SCAN_SECONDS,
    max_polls_per_second: float = DEFAULT_MAX_POLLS_PER_SECOND,
    concurrency: int = DEFAULT_CONCURRENCY,
    once: bool = False,
    stop: threading.Event | None = None,
) -> StepReport | None:
    """Run a poller until `stop` is set (or the process ends); with `once`, one step,
    whose report is returned."""
    poller = Poller(
        client,
        scan_seconds=scan_seconds,
        max_polls_per_second=max_polls_per_second,
        concurrency=concurrency,
    )
    if not once:
        poller.run(stop or threading.Event())
        return None
    try:
        return poller.step(scan=True)
    finally:
        poller.close()


class _ToRunLogger(logging.Handler):
    def __init__(self, run_logger: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
        super().__init__()
        self._run_logger = run_logger

    def emit(self, record: logging.LogRecord) -> None:
        self._run_logger.log(record.levelno, record.getMessage())


# -- the status view ----------------------------------------------------------------------


def status_rows(records: Iterable[WaitRecord], now: float) -> list[dict[str, Any]]:
    """One row per pending batch, for `batchwork-prefect poller status`."""
    rows = []
    for view in by_run(records):
        for record in view.records:
            rows.append(
                {
                    "run": record.run,
                    "part": record.part,
                    "batch_id": record.batch_id,
                    "provider": record.provider,
                    "status": record.status.value,
                    "polls": record.polls,
                    "next_poll_in": round(record.next_poll - now, 1),
                    "waiting_for": round(now - record.started, 1),
                    "deadline_in": None
                    if record.deadline is None
                    else round(record.deadline - now, 1),
                    "error": record.error,
                }
            )
    return rows
