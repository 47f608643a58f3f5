"""Release mode against a real deployment: worker time per batch in both wait modes, one
poller over 1,000 and over 10,000 pending batches, its restart, and how soon a batch's end
is noticed.

1. The same `run-batch` deployment run (`REQUESTS` short requests, one part, on the process
   worker) with `wait="in_process"`, then with `wait="release"` and one
   `batchwork-prefect poller`, against an emulator whose batches run `batch_seconds` of real
   time. /proc is sampled every 0.1 s for the run's processes (`PREFECT__FLOW_RUN_ID` in
   their environment): the union of their lifetimes is the process-seconds the run held.
2. `PENDING` wait records (created as the product's `WaitStore.put` creates them)
   pointing at batches of a frozen-clock emulator, their waits begun uniformly over the last
   `SPREAD` seconds, `wait`'s default schedule; one `batchwork-prefect poller` runs over them
   for a window. Each poll's time and the schedule it followed come from the server's own
   log of Variable updates (`VariableLog`); its CPU from /proc. Then the same over
   `LARGE_PENDING` records (`LARGE_PARTS` per run) whose waits began over the last
   `LARGE_SPREAD` seconds; that poller is then killed and a new one started over the same
   records: the restart is its start to its first write-back.
3. From (1): the batch's end (the emulator's `ended_at`) to the poller's resume (the run's
   Resuming state), and in process to the end of the run's `wait-for-part` task.
"""

from __future__ import annotations

import contextlib
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
from harness.waiting import Timeout, wait_until

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

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
LARGE_PENDING = 10_000
SMOKE_LARGE_PENDING = 200
"""`--smoke`'s large window: the same path over few records."""
LARGE_SPREAD = 86_400.0
"""The large window's waits began uniformly over the last day (a provider batch's 24 h):
most are polled every `MAX_POLL_INTERVAL`, as in a steady state of long batches."""
LARGE_PARTS = 10
"""Records per run in the large window (a run split into parts; 1,000 runs)."""
LARGE_POLLS_PER_SECOND = 50.0
"""The large window's `--max-polls-per-second`: one poller keeps at most this times
`MAX_POLL_INTERVAL` batches on schedule, and the default 20 covers 6,000."""
RESTART_ALLOWANCE = 300.0
"""How long the bench waits for the restarted poller's first write-back."""
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
    """Writing the records (setup)."""
    requests: int = 0
    """The requests that writing the records took (flow runs, then one per record)."""
    spread: float = SPREAD
    parts: int = 1
    max_polls_per_second: float | None = None
    """The poller's `--max-polls-per-second`, if not its default."""
    restart_seconds: float | None = None
    """A poller started over these records after the window: its start to its first
    write-back (large window only)."""
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
    large: PollerWindow = field(default_factory=lambda: PollerWindow(LARGE_PENDING))
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
                results.poller = _poller_window(cluster, window_seconds, PollerWindow(PENDING))
                _clear(cluster)  # the next window's poller sees its own records alone
                large = PollerWindow(
                    SMOKE_LARGE_PENDING
                    if window_seconds <= SMOKE_WINDOW_SECONDS
                    else LARGE_PENDING,
                    spread=LARGE_SPREAD,
                    parts=LARGE_PARTS,
                    max_polls_per_second=LARGE_POLLS_PER_SECOND,
                )
                log(f"release: one poller over {large.batches:,} pending batches, then a restart")
                results.large = _poller_window(
                    cluster, window_seconds, large, results.poller, restart=True
                )
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


# 2: one poller, 1,000 then 10,000 pending batches -----------------------------------------


def _poller_window(
    cluster: Cluster,
    seconds: float,
    window: PollerWindow,
    before: PollerWindow | None = None,
    *,
    restart: bool = False,
) -> PollerWindow:
    """One poller over `window.batches` new records for `seconds` (the write rate of a
    `before` window sizes the allowance for writing them); with `restart`, a poller started
    over the same records after it."""
    from batchwork_prefect.core.polling import next_poll_delay
    from batchwork_prefect.emulator import Emulator
    from batchwork_prefect.models import BatchStatus
    from batchwork_prefect.orchestration.waits import WaitRecord

    rng = random.Random(7)
    pending = window.batches
    runs = -(-pending // window.parts)
    window.requests = runs + pending
    options = []
    if window.max_polls_per_second is not None:
        options = ["--max-polls-per-second", f"{window.max_polls_per_second:g}"]
    with Emulator(processing_seconds=30 * 86400.0, time_scale=0) as emulator:
        _save_block(cluster, "bench-pending", emulator.base_url)
        ids = _create_batches(emulator.base_url, pending)
        log = VariableLog(cluster.server.database)
        log.install()
        name = f"poller-pending-{pending}"
        poller = cluster.start_poller(name, *options, scan_seconds=None)
        try:
            # The records' first polls start one scan after they are all written (a run's
            # own first poll is at least `POLL_INTERVAL` after it writes its records).
            now = time.time()
            start = now + _write_allowance(window, before) + SCAN_SECONDS + 2.0
            scheduled: dict[str, tuple[float, float]] = {}
            records = []
            for index, batch_id in enumerate(ids):
                begun = now - rng.uniform(0.0, window.spread)
                delay = next_poll_delay(
                    start - begun,
                    poll_interval=POLL_INTERVAL,
                    max_poll_interval=MAX_POLL_INTERVAL,
                )
                record = WaitRecord(
                    run=str(uuid.UUID(int=index // window.parts, version=4)),  # a placeholder
                    part=index % window.parts,
                    parts=min(window.parts, pending - index // window.parts * window.parts),
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
                slices = _slices(_by_run(records), WRITERS)
                parts = pool.map(lambda part: _put(cluster, part), slices)
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
            if restart:
                poller.kill()  # as a crash would stop it
                time.sleep(2.0)  # its requests sent already are served (not the restart's)
                window.restart_seconds = _restart(cluster, log, name, options)
        finally:
            poller.stop()
        judge_polls(window, scheduled, log.rows(), start, end)
        if emulator.calls["retrieve"] < window.polls - window.missed:
            window.note = "failed: fewer retrieves than logged polls"
    return window


def _clear(cluster: Cluster) -> None:
    """Delete every wait record, schedule and resume log."""
    from prefect import get_client

    from batchwork_prefect.orchestration.wait_store import WaitStore

    with cluster.settings(), get_client(sync_client=True) as client:
        store = WaitStore(client)
        store.delete(store.names())


def _restart(cluster: Cluster, log: VariableLog, name: str, options: list[str]) -> float | None:
    """A new poller over the records: seconds from its start to its first write-back (a
    batch's schedule), or None if none came within `RESTART_ALLOWANCE`."""
    started = time.time()
    poller = cluster.start_poller(f"{name}-restarted", *options, scan_seconds=None)
    try:
        first: list[float] = []

        def written() -> bool:
            first[:] = [at for at in [log.first_after(SCHEDULES, started)] if at is not None]
            return bool(first) or not poller.alive()

        with contextlib.suppress(Timeout):  # none within the allowance: not measured
            wait_until(written, RESTART_ALLOWANCE, interval=0.1, message="the first write-back")
    finally:
        poller.stop()
    return first[0] - started if first else None


SCHEDULES = "batchwork-poll-%"


def _write_allowance(window: PollerWindow, before: PollerWindow | None) -> float:
    """Seconds to allow for writing the records (a flow run per run, then create
    each record, from `WRITERS` threads): twice as long per request as the window
    `before`, else about four times what one took on a loaded 2-core machine."""
    if before is not None and before.requests and before.write_seconds:
        return 2.0 * before.write_seconds / before.requests * window.requests + 10.0
    return 0.04 * window.requests


def _by_run(records: list[WaitRecord]) -> list[list[WaitRecord]]:
    runs: dict[str, list[WaitRecord]] = {}
    for record in records:
        runs.setdefault(record.run, []).append(record)
    return list(runs.values())


def _slices(runs: list[list[WaitRecord]], count: int) -> list[list[list[WaitRecord]]]:
    return [runs[index::count] for index in range(count)]


def _put(cluster: Cluster, runs: list[list[WaitRecord]]) -> list[WaitRecord]:
    """Create each run's records as the run does (`WaitStore.put` of a new record), one
    client per thread, for a flow run made first (the poller drops the records of runs that
    do not exist); returns them with their runs' ids."""
    from prefect import get_client

    written = []
    with cluster.settings(), get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("bench-pending")
        for records in runs:
            body = {"flow_id": str(flow_id)}
            run = _patiently(client, "/flow_runs/", body)
            for record in records:
                record = record.model_copy(update={"run": str(run.json()["id"])})
                # created as `WaitStore.put` creates a new record, without its update probe
                variable = {"name": record.name, "value": record.model_dump(mode="json")}
                _patiently(client, "/variables/", variable)
                written.append(record)
    return written


def _patiently(client: SyncPrefectClient, path: str, body: dict[str, Any]) -> httpx.Response:
    """POST `body`, again after a pause while a loaded SQLite server answers 503 (Prefect's
    client has retried already); the setup is not what is measured."""
    for _ in range(5):
        try:
            return client.request("POST", path, json=body)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 503:
                raise
            time.sleep(5.0)
    return client.request("POST", path, json=body)


def _create_batches(base_url: str, count: int) -> list[str]:
    with ThreadPoolExecutor(WRITERS) as pool:
        slices = [count // WRITERS + (index < count % WRITERS) for index in range(WRITERS)]
        return [
            batch for part in pool.map(_create_some, [base_url] * WRITERS, slices) for batch in part
        ]


def _create_some(base_url: str, count: int) -> list[str]:
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
