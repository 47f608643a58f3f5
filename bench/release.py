"""Release mode against a real deployment: worker time per batch in both wait modes, one
poller over 1,000 pending batches, and how soon a batch's end is noticed.

1. The same `run-batch` deployment run (`REQUESTS` short requests, one part, on the process
   worker) with `wait="in_process"`, then with `wait="release"` and one
   `batchwork-prefect poller`, against an emulator whose batches run `batch_seconds` of real
   time. /proc is sampled every 0.1 s for the run's processes (`PREFECT__FLOW_RUN_ID` in
   their environment): the union of their lifetimes is the process-seconds the run held.
2. `PENDING` wait records (written with the product's `WaitStore.put`, for made-up run ids)
   pointing at batches of a frozen-clock emulator, their waits begun uniformly over the last
   `SPREAD` seconds, `wait`'s default schedule; one `batchwork-prefect poller` runs over them
   for a window. Each poll's time and the schedule it followed come from the server's own
   log of Variable updates (`VariableLog`); its CPU from /proc.
3. From (1): the batch's end (the emulator's `ended_at`) to the poller's resume (the run's
   Resuming state), and in process to the end of the run's `wait-for-part` task.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench.readings import ProcessSampler, VariableLog, overlap, union_seconds
from bench.workloads import API_KEY, HEADERS, MODEL
from harness.processes import cpu_seconds
from harness.waiting import wait_until

if TYPE_CHECKING:
    from batchwork_prefect.orchestration.waits import WaitRecord
    from harness import Cluster

DEPLOYMENT = "run-batch/run-batch"

REQUESTS = 200
BATCH_SECONDS = 60.0
QUICK_BATCH_SECONDS = 20.0
PENDING = 1000
SPREAD = 3000.0
"""The pending batches' waits began uniformly over this many seconds before the window."""
POLL_INTERVAL = 30.0
MAX_POLL_INTERVAL = 300.0
WINDOW_SECONDS = 300.0
QUICK_WINDOW_SECONDS = 60.0
SMOKE_BATCH_SECONDS = 5.0
SMOKE_WINDOW_SECONDS = 15.0
ON_TIME_SHARE = 0.1
"""A poll is on time when it comes within this share of its scheduled delay."""
WRITERS = 4
"""Threads writing the wait records (setup)."""
SCAN_SECONDS = 10.0
"""The poller's default `--scan-seconds`: records written now are seen within this."""
MODES = ("in_process", "release")
RUN_ALLOWANCE = 300.0
"""A run may take this much longer than its batch before the bench gives up on it."""


@dataclass
class ModeRun:
    """One `run-batch` deployment run in one wait mode."""

    mode: str
    processes: int = 0
    process_seconds: float = 0.0
    """The union of the run's processes' lifetimes."""
    held_while_running: float = 0.0
    """Of those, the seconds inside the batch's own run (its create to its end)."""
    cpu_seconds: float = 0.0
    batch_seconds: float = 0.0
    """The provider batch's created_at to its ended_at."""
    run_seconds: float = 0.0
    """The flow run's first Running state to its Completed state."""
    noticed_seconds: float = 0.0
    """The batch's end to the run noticing it: the Resuming state (release), or the end of
    the wait-for-part task (in process)."""
    results_seconds: float = 0.0
    """The batch's end to the run's Completed state."""
    states: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.note and self.process_seconds > 0


@dataclass
class PollerWindow:
    """One poller over `batches` pending batches for `seconds`."""

    batches: int
    seconds: float = 0.0
    polls: int = 0
    """Polls whose scheduled time fell in the window (missed ones included)."""
    on_time: int = 0
    missed: int = 0
    """Of `polls`, those not made at all by the window's end, more than 10% late by then."""
    lateness_shares: list[float] = field(default_factory=list)
    """Each poll made: how late it came, as a share of its scheduled delay."""
    cpu_seconds: float = 0.0
    startup_cpu_seconds: float = 0.0
    """The poller's CPU before the window (its start-up, and idling while the records were
    written)."""
    write_seconds: float = 0.0
    """Writing the records (`WaitStore.put`, setup)."""
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.note and self.polls > 0 and self.seconds > 0

    @property
    def on_time_share(self) -> float:
        return self.on_time / self.polls

    @property
    def cpu_share(self) -> float:
        return self.cpu_seconds / self.seconds


@dataclass
class ReleaseResults:
    batch_seconds: float
    requests: int = REQUESTS
    runs: dict[str, ModeRun] = field(default_factory=dict)
    poller: PollerWindow = field(default_factory=lambda: PollerWindow(PENDING))
    server_seconds: float = 0.0
    note: str = ""


def run_release(batch_seconds: float, window_seconds: float, log: Any) -> ReleaseResults:
    """The whole release section on one fresh server, with Prefect's default settings: the
    repo's `run-batch` deployment on a process pool, one worker."""
    from batchwork_prefect.emulator import Emulator
    from harness import running_cluster

    results = ReleaseResults(batch_seconds)
    results.poller = PollerWindow(PENDING)
    with tempfile.TemporaryDirectory(prefix="bench-release-") as folder:
        try:
            log("release: starting prefect server, deploying run-batch, starting a worker")
            started = time.monotonic()
            with running_cluster(
                Path(folder), queues=(), quick=False, deployments=["run-batch"]
            ) as cluster:
                cluster.start_worker(None, "bench-worker", heartbeat_frequency=None, quick=False)
                results.server_seconds = time.monotonic() - started
                with Emulator(processing_seconds=batch_seconds, time_scale=1.0) as emulator:
                    _save_block(cluster, "bench-release", emulator.base_url)
                    for mode in MODES:
                        log(f"release: one {batch_seconds:.0f} s batch with wait={mode!r}")
                        run = _one_run(cluster, emulator.base_url, mode, batch_seconds)
                        results.runs[mode] = run
                log(f"release: one poller over {PENDING:,} pending batches, {window_seconds:.0f} s")
                results.poller = _poller_window(cluster, window_seconds)
        except Exception as exc:  # the server, a run or the poller failed: the goals say why
            results.note = f"failed: {type(exc).__name__}: {str(exc)[:300]}"
    return results


def _save_block(cluster: Cluster, name: str, base_url: str) -> None:
    from batchwork_prefect import AnthropicCredentials

    with cluster.settings():
        AnthropicCredentials(api_key=API_KEY, base_url=base_url).save(name, overwrite=True)


# 1 and 3: one run per mode ------------------------------------------------------------------


def _one_run(cluster: Cluster, base_url: str, mode: str, batch_seconds: float) -> ModeRun:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.objects import StateType

    final_types = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]

    result = ModeRun(mode)
    poller = (
        None if mode != "release" else cluster.start_poller(f"poller-{mode}", scan_seconds=None)
    )
    before = {batch["id"] for batch in _batches(base_url)}
    requests = [{"custom_id": f"r{i:03d}", "prompt": f"Question {i}"} for i in range(REQUESTS)]
    parameters = {
        "model": f"anthropic/{MODEL}",
        "requests": requests,
        "defaults": {"max_tokens": 16},
        "credentials": "bench-release",
        "wait": mode,
    }
    try:
        with ProcessSampler() as sampler:
            run_id = str(cluster.run_deployment(DEPLOYMENT, None, parameters).id)
            timeout = batch_seconds + RUN_ALLOWANCE
            final = cluster.wait_for_state(run_id, final_types, timeout=timeout).state_type
            if final != StateType.COMPLETED:
                result.note = f"failed: the run ended {final and final.value}"
            wait_until(
                lambda: not sampler.alive(run_id),
                30,
                interval=0.1,
                message="the run's process to exit",
            )
    finally:
        if poller is not None:
            poller.stop()
    with cluster.settings(), get_client(sync_client=True) as client:
        states = sorted(client.read_flow_run_states(uuid.UUID(run_id)), key=lambda s: s.timestamp)
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(run_id)]))
        )
    result.states = [str(state.name) for state in states]
    batches = [batch for batch in _batches(base_url) if batch["id"] not in before]
    if len(batches) != 1 or batches[0]["ended_at"] is None:
        result.note = result.note or f"failed: {len(batches)} batches created, expected 1 ended"
        return result
    created, ended = _epoch(batches[0]["created_at"]), _epoch(batches[0]["ended_at"])
    held = sampler.of(run_id)
    intervals = [(p.started, p.last_seen) for p in held]
    result.processes = len(held)
    result.process_seconds = union_seconds(intervals)
    result.held_while_running = overlap(intervals, created, ended)
    result.cpu_seconds = sum(p.cpu for p in held)
    result.batch_seconds = ended - created
    stamps = {str(s.name): s.timestamp.timestamp() for s in reversed(states)}  # the first
    running, completed = stamps.get("Running"), stamps.get("Completed")
    if running is not None and completed is not None:
        result.run_seconds = completed - running
        result.results_seconds = completed - ended
    if mode == "release":
        noticed = stamps.get("Resuming")
    else:
        waits = [
            t for t in tasks if str(t.flow_run_id) == run_id and t.name.startswith("wait-for-part")
        ]
        noticed = max((t.end_time.timestamp() for t in waits if t.end_time), default=None)
    if noticed is None:
        result.note = result.note or f"failed: no notice of the end in {result.states}"
    else:
        result.noticed_seconds = noticed - ended
    return result


def _batches(base_url: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{base_url}/v1/messages/batches", params={"limit": 1000}, headers=HEADERS, timeout=30
    )
    response.raise_for_status()
    batches: list[dict[str, Any]] = response.json()["data"]
    return batches


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# 2: one poller, 1,000 pending batches -----------------------------------------------------


def _poller_window(cluster: Cluster, seconds: float) -> PollerWindow:
    from batchwork_prefect.core.polling import next_poll_delay
    from batchwork_prefect.emulator import Emulator
    from batchwork_prefect.models import BatchStatus
    from batchwork_prefect.orchestration.waits import WaitRecord

    window = PollerWindow(PENDING)
    rng = random.Random(7)
    with Emulator(processing_seconds=30 * 86400.0, time_scale=0) as emulator:
        _save_block(cluster, "bench-pending", emulator.base_url)
        ids = _create_batches(emulator.base_url, PENDING)
        log = VariableLog(cluster.server.database)
        log.install()
        poller = cluster.start_poller("poller-pending", scan_seconds=None)
        try:
            # The records' first polls start one scan after they are all written (a run's
            # own first poll is at least `POLL_INTERVAL` after it writes its records).
            now = time.time()
            start = now + _write_allowance() + SCAN_SECONDS + 2.0
            scheduled: dict[str, tuple[float, float]] = {}
            records = []
            for batch_id in ids:
                begun = now - rng.uniform(0.0, SPREAD)
                delay = next_poll_delay(
                    start - begun,
                    poll_interval=POLL_INTERVAL,
                    max_poll_interval=MAX_POLL_INTERVAL,
                )
                record = WaitRecord(
                    run=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    part=0,
                    parts=1,
                    provider="anthropic",
                    batch_id=batch_id,
                    credentials="bench-pending",
                    started=begun,
                    deadline=None,
                    poll_interval=POLL_INTERVAL,
                    max_poll_interval=MAX_POLL_INTERVAL,
                    next_poll=start + rng.uniform(0.0, delay),
                    status=BatchStatus.IN_PROGRESS,
                    written=now,
                    suspension="bench",
                )
                records.append(record)
                scheduled[record.batch_id] = (record.next_poll, delay)
            with ThreadPoolExecutor(WRITERS) as pool:
                parts = pool.map(lambda part: _put(cluster, part), _slices(records, WRITERS))
                for record in (record for part in parts for record in part):
                    scheduled[record.name] = scheduled.pop(record.batch_id)
            written = time.time()
            window.write_seconds = written - now
            if written > start - SCAN_SECONDS:
                window.note = (
                    f"failed: writing the records took {written - now:.0f} s, past the start"
                )
                return window
            startup = cpu_seconds(poller.pid)
            time.sleep(max(start - time.time(), 0.0))
            begin_cpu = cpu_seconds(poller.pid)
            time.sleep(seconds)
            end = time.time()
            end_cpu = cpu_seconds(poller.pid)
            if not poller.alive() or begin_cpu is None or end_cpu is None:
                window.note = f"failed: the poller exited: {poller.tail(20)}"
                return window
            window.seconds = end - start
            window.cpu_seconds = end_cpu - begin_cpu
            window.startup_cpu_seconds = startup or 0.0
        finally:
            poller.stop()
        judge_polls(window, scheduled, log.rows(), start, end)
        if emulator.calls["retrieve"] < window.polls - window.missed:
            window.note = "failed: fewer retrieves than logged polls"
    return window


def _write_allowance() -> float:
    """Seconds to allow for writing `PENDING` records (three requests each: the flow run,
    then create or replace, from `WRITERS` threads): about three times what two took on a
    2-core machine, plus half as much for the flow run."""
    return 0.06 * PENDING


def _slices(records: list[WaitRecord], count: int) -> list[list[WaitRecord]]:
    return [records[index::count] for index in range(count)]


def _put(cluster: Cluster, records: list[WaitRecord]) -> list[WaitRecord]:
    """Write `records` with the product's `WaitStore.put`, one client per thread, each for a
    flow run of its own made first (the poller drops the records of runs that do not exist);
    returns them with their runs' ids."""
    from prefect import get_client

    from batchwork_prefect.orchestration.wait_store import WaitStore

    written = []
    with cluster.settings(), get_client(sync_client=True) as client:
        store = WaitStore(client)
        flow_id = client.create_flow_from_name("bench-pending")
        for record in records:
            run = client.request("POST", "/flow_runs/", json={"flow_id": str(flow_id)})
            record = record.model_copy(update={"run": str(run.json()["id"])})
            store.put(record)
            written.append(record)
    return written


def _create_batches(base_url: str, count: int) -> list[str]:
    body = {
        "requests": [
            {
                "custom_id": "pending",
                "params": {
                    "model": MODEL,
                    "max_tokens": 16,
                    "messages": [{"role": "user", "content": "Say hi."}],
                },
            }
        ]
    }
    with httpx.Client(headers=HEADERS, timeout=60) as client:
        ids = []
        for _ in range(count):
            response = client.post(f"{base_url}/v1/messages/batches", json=body)
            response.raise_for_status()
            ids.append(response.json()["id"])
    return ids


def judge_polls(
    window: PollerWindow,
    scheduled: dict[str, tuple[float, float]],
    rows: list[tuple[str, dict[str, Any], float]],
    start: float,
    end: float,
) -> None:
    """Each poll against its schedule: a poll scheduled at S with delay D (since the poll
    before, or the record's interval for the first) that came at T is on time when
    T - S <= 10% of D. A poll scheduled in the window but not made by its end is missed
    (late) once the end is more than 10% of D past S; one still within that is not
    counted."""
    from batchwork_prefect.orchestration.waits import PREFIX, SCHEDULE_PREFIX

    polls: dict[str, list[tuple[float, float]]] = {}
    for name, value, at in rows:  # the poller's writes go to its own schedule variables
        if not name.startswith(SCHEDULE_PREFIX):
            continue
        name = PREFIX + name.removeprefix(SCHEDULE_PREFIX)
        if name in scheduled and start <= at <= end:
            polls.setdefault(name, []).append((at, float(value["next_poll"])))
    for name, (first, delay) in scheduled.items():
        due, interval = first, delay
        for at, next_poll in polls.get(name, []):
            late = at - due
            window.polls += 1
            window.lateness_shares.append(max(late, 0.0) / interval)
            window.on_time += late <= ON_TIME_SHARE * interval
            due, interval = next_poll, next_poll - at
        if due + ON_TIME_SHARE * interval < end:
            window.polls += 1
            window.missed += 1


def lateness_quantile(window: PollerWindow, q: float) -> float:
    if not window.lateness_shares:
        return 0.0
    ordered = sorted(window.lateness_shares)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0
