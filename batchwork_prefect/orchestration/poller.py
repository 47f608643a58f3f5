"""The managed poller: watches the batches of released runs and resumes each run once.

`batchwork-prefect poller` runs `Poller.run` beside the workers (a service, or a
deployment's long-running flow). Each step it:

1. reads the wait records every `scan_seconds`, so runs released (or suspended again)
   meanwhile join; records it cannot read are logged once and listed by `poller status`;
2. polls the batches whose next poll has come, most overdue first, at most
   `max_polls_per_second`, and writes each one's schedule to its own variable (the run
   alone writes its record: see `waits`);
3. resumes every run whose batches have all ended, whose deadline has passed, or whose
   batch failed for good (the run then reports it), after reading its records again; runs
   that suspend again with nothing reported are resumed less often, then not at all
   (`resumes`);
4. drops the records of runs that ended without it or were deleted (a run cancelled or
   deleted while suspended has its running batches cancelled, as a cancelled in-process
   wait does).

It keeps no state of its own: kill it at any point and start it again, or run two. Prefect
resumes a suspended run only once (a second resume finds it no longer paused), and a resume
names the suspension it was meant for, so a stale one cannot wake a later suspension.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun, StateType

from batchwork_prefect.errors import BatchworkError
from batchwork_prefect.orchestration.batch_polls import Clients, poll
from batchwork_prefect.orchestration.poller_runs import (
    ENDED_RUN_STATES,
    ended_after,
    missing_runs,
    read_runs,
    why,
)
from batchwork_prefect.orchestration.resumes import (
    Gate,
    ResumeLog,
    after_resume,
    gave_up_message,
    resume_gate,
)
from batchwork_prefect.orchestration.wait_store import Unreadable, WaitStore
from batchwork_prefect.orchestration.waits import (
    RunView,
    Verdict,
    WaitRecord,
    pollable,
)

logger = logging.getLogger("batchwork.poller")

DEFAULT_SCAN_SECONDS = 10.0
DEFAULT_MAX_POLLS_PER_SECOND = 20.0
DEFAULT_CONCURRENCY = 4
MIN_SLEEP = 0.25


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
        self._resumes: dict[str, ResumeLog] = {}  # run id -> the poller's last resume of it
        self._queue: list[tuple[float, str]] = []  # (next poll, name); stale entries skipped
        self._in_flight: dict[str, Future[WaitRecord]] = {}
        self._touched: set[str] = set()  # runs whose verdict may have changed
        self._unresumed: dict[str, float] = {}  # ready runs not resumed yet: when to try again
        self._told: set[str] = set()  # unreadable records and given-up runs already logged
        self._last_scan = float("-inf")
        self._last_step: float | None = None
        self._budget = 0.0
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="batchwork-poll")
        self._clients = Clients()

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
            report.dropped += self._drop_gone_runs()
        report.polled = self._collect(wait=False)
        self._start_polls(now)
        if settle:
            report.polled += self._collect(wait=True)
        report.resumed = self._resume_ready(self._clock())
        report.pending = sum(1 for r in self._records.values() if self._waits_on(r))
        report.next_in = self._next_in(self._clock())
        return report

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._clients.close()

    # the records in memory

    def _scan(self, now: float) -> None:
        snapshot = self._store.snapshot()
        self._tell_unreadable(snapshot.unreadable)
        if snapshot.stale:
            self._store.delete(snapshot.stale)
        records = {record.name: record for record in snapshot.records}
        for name in self._in_flight:  # their answers are on the way
            if name in self._records:
                records.setdefault(name, self._records[name])
        self._records = records
        self._resumes = snapshot.resumes
        self._runs = {}
        for record in records.values():
            self._runs.setdefault(record.run, set()).add(record.name)
        self._queue = [(r.next_poll, r.name) for r in records.values() if self._waits_on(r)]
        heapq.heapify(self._queue)
        self._touched = set(self._runs)
        self._last_scan = now

    def _reread(self, run: str) -> RunView | None:
        """The run's records as the server has them now (the run may have suspended again)."""
        snapshot = self._store.snapshot(run)
        self._tell_unreadable(snapshot.unreadable)
        for name in self._runs.pop(run, set()):
            self._records.pop(name, None)
        self._resumes.pop(run, None)
        self._resumes.update(snapshot.resumes)
        for record in snapshot.records:
            self._keep(record)
        return self._view(run)

    def _tell_unreadable(self, unreadable: list[Unreadable]) -> None:
        for item in unreadable:
            if item.name not in self._told:
                self._told.add(item.name)
                logger.error(
                    "wait record %s cannot be read (%s): the poller skips it; restore it "
                    "as its run wrote it, or delete the variable if its run no longer waits",
                    item.name,
                    item.reason,
                )

    def _keep(self, record: WaitRecord) -> None:
        self._records[record.name] = record
        self._runs.setdefault(record.run, set()).add(record.name)
        if self._waits_on(record):
            heapq.heappush(self._queue, (record.next_poll, record.name))
        self._touched.add(record.run)

    def _forget(self, run: str) -> None:
        """Delete the run's records and the poller's variables of it, there and here."""
        names = self._runs.pop(run, set())
        parts = max((self._records[n].parts for n in names if n in self._records), default=0)
        self._store.forget_run(run, parts)
        for name in names:
            self._records.pop(name, None)
        self._unresumed.pop(run, None)
        self._resumes.pop(run, None)

    def _view(self, run: str) -> RunView | None:
        records = [self._records[name] for name in self._runs.get(run, ()) if name in self._records]
        return RunView(run, tuple(sorted(records, key=lambda r: r.part))) if records else None

    def _waits_on(self, record: WaitRecord) -> bool:
        """Whether the batch is still to be polled: running, no definite error, and its
        suspension not resumed by a poller already (its run will write new records)."""
        log = self._resumes.get(record.run)
        return pollable(record) and (log is None or log.suspension != record.suspension)

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
            if record is None or record.next_poll != when or not self._waits_on(record):
                continue  # stale: polled or rescheduled since
            if name in self._in_flight:
                continue
            self._budget -= 1
            self._in_flight[name] = self._pool.submit(poll, record, self._clients, self._clock)

    def _collect(self, *, wait: bool) -> int:
        """Take up finished polls (all of them, with `wait`)."""
        if wait and self._in_flight:
            futures_wait(list(self._in_flight.values()))
        done = [name for name, future in self._in_flight.items() if future.done()]
        for name in done:
            polled = self._in_flight.pop(name).result()
            current = self._records.get(name)
            if current is None or current.suspension != polled.suspension:
                continue  # the run moved on meanwhile: this answer is of no use
            # written back one by one from here: concurrent writers make SQLite servers
            # answer "database is locked", and Prefect's client then backs off for seconds
            self._store.put_schedule(polled)
            self._keep(polled)
        return len(done)

    def _next_in(self, now: float) -> float:
        """Until the next poll, scan or retry; between a quarter of a second (wake-ups
        close together are one) and a second."""
        while self._queue:
            when, name = self._queue[0]
            record = self._records.get(name)
            if record is not None and record.next_poll == when and self._waits_on(record):
                break
            heapq.heappop(self._queue)  # stale
        until_scan = self._last_scan + self._scan_seconds - now
        until_poll = self._queue[0][0] - now if self._queue else until_scan
        return max(min(until_scan, until_poll, 1.0), MIN_SLEEP)

    # runs

    def _resume_ready(self, now: float) -> int:
        """Resume the runs whose records say so (those changed since, and those not
        resumed yet whose time to try again has come)."""
        retry = {run for run, at in self._unresumed.items() if now >= at}
        candidates = (self._touched | retry) & set(self._runs)
        self._touched = set()
        ready = []
        for run in candidates:
            self._unresumed.pop(run, None)  # set again below if it is still to be tried
            view = self._view(run)
            if view is not None and self._ready(view, now):
                ready.append(view)
        if not ready:
            return 0
        runs = read_runs(self._client, (view.run for view in ready))
        resumed = 0
        for view in ready:
            if self._resume(view, runs.get(view.run), now):
                resumed += 1
            elif view.run in self._runs:
                self._unresumed.setdefault(view.run, now + 1.0)
        return resumed

    def _ready(self, view: RunView, now: float) -> bool:
        """Whether the records say resume, and the resume log lets it happen now."""
        suspension = view.suspension
        if suspension is None or view.verdict(now) is not Verdict.RESUME:
            return False
        batches = [record.batch_id for record in view.records]
        decision = resume_gate(self._resumes.get(view.run), suspension, now, batches)
        if decision.gate is Gate.LATER:
            self._unresumed[view.run] = decision.at
        elif decision.gate is Gate.NEVER and f"{view.run}/{suspension}" not in self._told:
            self._told.add(f"{view.run}/{suspension}")
            logger.error("%s", gave_up_message(view.run, decision.fruitless))
        return decision.gate is Gate.NOW

    def _resume(self, view: RunView, run: FlowRun | None, now: float) -> bool:
        """Resume the run if it is still in the suspension its records (read again now)
        describe, and they still say so."""
        self._unresumed.pop(view.run, None)
        if run is None or run.state is None:
            self._drop_deleted(view)
            return False
        state = run.state
        if state.is_final():
            if ended_after(view, state):
                self._forget(view.run)  # it ended without us (cancelled, failed, ...)
            return False
        if state.type is not StateType.PAUSED:
            return False  # resumed by hand, or by a twin poller: it suspends again or ends
        fresh = self._reread(view.run)  # the run's records, not this poller's copy
        suspension = fresh.suspension if fresh is not None else None
        if fresh is None or suspension is None or suspension != state.state_details.pause_key:
            # its records are of another suspension (the run is writing them): next scan
            self._unresumed[view.run] = now + self._scan_seconds
            return False
        if not self._ready(fresh, now):
            return False
        result = self._client.resume_flow_run(UUID(view.run))
        if result.status.value != "ACCEPT":
            return False
        batches = [record.batch_id for record in fresh.records]
        log = after_resume(self._resumes.get(view.run), view.run, suspension, now, batches)
        self._store.put_resumes(log)
        self._resumes[view.run] = log
        logger.info("resumed run %s: %s", view.run, why(fresh, now))
        return True

    def _drop_gone_runs(self) -> int:
        """Drop the records of runs that ended after writing them, or were deleted; cancel
        their running batches if the run was cancelled or deleted."""
        if not self._runs:
            return 0
        dropped = 0
        for run_id in missing_runs(self._client, self._runs):
            deleted = self._view(run_id)
            if deleted is not None:
                self._drop_deleted(deleted)
                dropped += 1
        ended = read_runs(self._client, self._runs, states=ENDED_RUN_STATES).values()
        for run in ended:
            view = self._view(str(run.id))
            state = run.state
            if view is None or state is None or not ended_after(view, state):
                continue
            if state.type in (StateType.CANCELLED, StateType.CANCELLING):
                self._cancel_running(view, "was cancelled")
            logger.info("run %s is %s: dropping its wait records", run.id, state.name)
            self._forget(view.run)
            dropped += 1
        return dropped

    def _drop_deleted(self, view: RunView) -> None:
        logger.warning("run %s was deleted: dropping its wait records", view.run)
        self._cancel_running(view, "was deleted")
        self._forget(view.run)

    def _cancel_running(self, view: RunView, reason: str) -> None:
        for record in view.records:
            if record.ended:
                continue
            try:
                self._clients.cancel(record)
                logger.warning("run %s %s: cancelled %s", view.run, reason, record.batch_id)
            except BatchworkError as exc:
                logger.warning("could not cancel %s: %s", record.batch_id, exc)
