"""Crash cases on the production shape: Prefect on PostgreSQL, results on S3, two workers.

Each case runs the `run-batch` deployment from prefect.yaml with 250 requests split into 3
parts (100/100/50) against its own emulator, `result_storage` the S3 block
(`remote-file-system/prod-s3`, moto behind the delaying proxy), two process workers. Each
ends with the same proof, from the emulator's counters and the storage: exactly one create
and one provider batch per part, every result present and correct, the run Completed.

- (a) the worker running the flow and its flow process are SIGKILLed right after every
  create was answered; the run comes back (i) by a Retry as the UI does it, picked up by
  the other worker, (ii) by the automations of `batchwork-prefect install-automations`
  alone (the stalled-run automation marks it Crashed, a resume sets it AwaitingRetry).
- (e) only the flow-run process is SIGKILLed while it waits (its worker lives and reports
  the crash, after the runner did): the automations resume it with no human action.
- (i) two flow runs with the same `idempotency_key` and requests start together on the
  two workers while the proxy slows every intent and claim read by 0.5 s (and sends the
  two runs' first reads of each part's intent upstream together): still exactly one
  create per part in total, both runs Completed with every result.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.filesystems import RemoteFileSystem

from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.orchestration.automations import RESUME_MESSAGE, automatic_resumes
from batchwork_prefect.orchestration.loading import load_batch_results
from harness import (
    Cluster,
    Worker,
    flow_run_processes,
    kill_flow_run,
    kill_worker_tree,
    surviving,
    wait_until,
)
from tests.production.shape import S3, STORAGE, start_workers

pytestmark = [pytest.mark.production]

DEPLOYMENT = "run-batch/run-batch"
PARTS = 3
PROMPTS = [{"custom_id": f"q{index:03d}", "prompt": f"Question {index}"} for index in range(250)]
EXPECTED = {p["custom_id"]: f"Emulated reply to: {p['prompt']}" for p in PROMPTS}
INTENT_READ_DELAY = 0.5


def _parameters(credentials: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "anthropic/claude-opus-4-8",
        "requests": PROMPTS,
        "credentials": credentials,
        "max_requests_per_batch": 100,
        "poll_interval": 1,
        "max_poll_interval": 2,
        "result_storage": STORAGE,
        **extra,
    }


@dataclass
class Case:
    """One run of the batch on a queue served by two workers, and what was measured."""

    name: str
    cluster: Cluster
    emulator: Emulator
    queue: str
    workers: list[Worker]
    run: FlowRun
    measured: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        name: str,
        cluster: Cluster,
        make_emulator: Callable[..., Emulator],
        *,
        hold_first_polls: bool,
    ) -> Case:
        """An emulator whose batches stay open (until `finish`), two workers, the run.

        `hold_first_polls`: park each part's first poll, so the kill comes right after
        every create was answered (the matrix's case a)."""
        block = f"prod-{name}"
        emulator = make_emulator(block, processing_seconds=3600, time_scale=0)
        if hold_first_polls:
            emulator.add_fault(Fault(route="retrieve", hold_after_bytes=0, times=PARTS))
        queue = cluster.claim_queue()
        workers = start_workers(cluster, queue, queue)
        run = cluster.run_deployment(DEPLOYMENT, queue, _parameters(block))
        return cls(name, cluster, emulator, queue, workers, run)

    @property
    def run_id(self) -> str:
        return str(self.run.id)

    def running_worker(self) -> Worker:
        """The worker whose flow-run process runs the case's run."""
        found = wait_until(
            lambda: self.cluster.worker_running(self.run_id), 60, message="the run's worker"
        )
        return found

    def all_created(self) -> bool:
        """Every part created and each wait's first poll held (the matrix's point a)."""
        return self.emulator.batches_created == PARTS and self.emulator.held == PARTS

    def waiting(self) -> bool:
        """Every part created and polled at least twice."""
        emu = self.emulator
        return emu.batches_created == PARTS and emu.calls["retrieve"] >= 2 * PARTS

    def finish(self, timeout: float = 240, *, automated: bool = False) -> FlowRun:
        """Once the rerun polls, let the batches end; wait for Completed.

        `automated`: the automations resume the run, so Crashed is on its way, not final."""
        polls = self.emulator.calls["retrieve"]
        wait_until(
            lambda: self.emulator.calls["retrieve"] > polls,
            timeout,
            message=lambda: (
                f"the rerun's poll ({self.name}): {self.cluster.state_names(self.run_id)}"
            ),
        )
        self.emulator.advance(3600)
        return self.cluster.wait_for_state(
            self.run_id, StateType.COMPLETED, timeout=timeout, crash_is_final=not automated
        )

    def check(self, storage: RemoteFileSystem) -> None:
        """Exactly one batch per part, every result present and correct; print the counts."""
        run = self.cluster.read_flow_run(self.run_id)
        self.measured.update(run_count=run.run_count, state=run.state_name)
        self.measured["history"] = self.cluster.state_names(self.run_id)
        try:
            check_results(self.name, self.emulator, self.run_id, storage, self.measured)
        finally:
            _report(self.name, self.measured)


def check_results(
    name: str, emu: Emulator, scope: str, storage: RemoteFileSystem, measured: dict[str, Any]
) -> None:
    results = load_batch_results(scope, storage=storage)
    measured.update(
        creates=emu.calls["create"],
        batches=emu.batches_created,
        results=len(results),
        correct=sum(1 for k, v in results.texts().items() if EXPECTED.get(k) == v),
        downloads=emu.calls["results"],
    )
    assert emu.batches_created == PARTS, (name, measured)
    assert emu.calls["create"] == PARTS, (name, measured)
    assert len(set(results.batch_ids)) == PARTS, (name, measured)
    assert results.texts() == EXPECTED, (name, measured)


def _report(name: str, measured: dict[str, Any]) -> None:
    print(f"production case ({name}): {measured}")


def _kill_right_after_submit(case: Case) -> Worker:
    """SIGKILL the tree of the worker running the case (worker + flow process) at point a;
    let the held polls go; return the other worker, which lives on."""
    wait_until(case.all_created, 180, message="every part created, first polls held")
    victim = case.running_worker()
    survivor = next(worker for worker in case.workers if worker is not victim)
    killed = kill_worker_tree(victim)
    assert surviving(killed) == []
    case.measured["creates_before_kill"] = case.emulator.calls["create"]
    case.emulator.release()
    assert case.cluster.read_flow_run(case.run_id).state_type == StateType.RUNNING
    assert survivor.alive()
    return survivor


@pytest.mark.timeout(400)
def test_a_kill_after_submit_then_a_ui_retry_runs_on_the_other_worker(
    cluster: Cluster, make_emulator: Callable[..., Emulator], storage: RemoteFileSystem
) -> None:
    case = Case.start("a-i", cluster, make_emulator, hold_first_polls=True)
    survivor = _kill_right_after_submit(case)
    cluster.retry_from_ui(case.run_id)
    done = case.finish()
    case.check(storage)
    assert done.run_count == 2
    assert case.run_id in survivor.tail(3000)  # the other worker picked the retry up


@pytest.mark.timeout(400)
def test_a_kill_after_submit_then_the_automations_resume_it(
    cluster: Cluster,
    make_emulator: Callable[..., Emulator],
    storage: RemoteFileSystem,
    installed_automations: list[str],
) -> None:
    case = Case.start("a-ii", cluster, make_emulator, hold_first_polls=True)
    survivor = _kill_right_after_submit(case)
    # Nobody reports this death: the stalled-run automation marks the run Crashed once
    # its heartbeats stop, and a resume sets it AwaitingRetry for the surviving worker.
    done = case.finish(timeout=300, automated=True)
    case.check(storage)
    history = cluster.history(case.run_id)
    assert done.run_count == 2
    assert automatic_resumes(history) == 1, history
    assert ("AwaitingRetry", RESUME_MESSAGE) in history, history
    assert "Crashed" in [name for name, _ in history], history
    assert case.run_id in survivor.tail(3000)


@pytest.mark.timeout(400)
def test_e_only_the_flow_process_is_killed_while_waiting_and_the_automations_resume_it(
    cluster: Cluster,
    make_emulator: Callable[..., Emulator],
    storage: RemoteFileSystem,
    installed_automations: list[str],
) -> None:
    case = Case.start("e", cluster, make_emulator, hold_first_polls=False)
    wait_until(case.waiting, 180, message="every part polled twice")
    worker = case.running_worker()
    processes = flow_run_processes(case.run_id)
    assert processes and worker.pid not in processes
    killed = kill_flow_run(case.run_id)
    assert set(killed) >= set(processes)
    assert all(w.alive() for w in case.workers)  # its worker lives and reports the crash
    case.measured["creates_before_kill"] = case.emulator.calls["create"]
    done = case.finish(timeout=300, automated=True)
    case.check(storage)
    history = cluster.history(case.run_id)
    assert ("AwaitingRetry", RESUME_MESSAGE) in history, history
    assert automatic_resumes(history) == 1, history
    assert "Retry from the UI" not in [message for _, message in history], history  # no human
    # One start after the kill: a second flow-run process for the same run (the resume of
    # the first Crashed report picked up, then the second report and its resume picked up
    # again while the first process still starts) would show as two Running states.
    assert done.run_count == 2, history


def _final(cluster: Cluster, run: FlowRun, timeout: float) -> FlowRun:
    def ended() -> FlowRun | None:
        current = cluster.read_flow_run(run.id)
        return current if current.state is not None and current.state.is_final() else None

    return wait_until(ended, timeout, message=lambda: f"run {run.id} to end")


@pytest.mark.timeout(400)
def test_i_two_runs_with_one_idempotency_key_create_each_part_once(
    cluster: Cluster, make_emulator: Callable[..., Emulator], storage: RemoteFileSystem, s3: S3
) -> None:
    emulator = make_emulator("prod-i", processing_seconds=0, time_scale=0)
    queues = [cluster.claim_queue(), cluster.claim_queue()]
    workers = start_workers(cluster, *queues)  # one worker per queue: one run each
    s3.proxy.delay = INTENT_READ_DELAY  # every intent and claim read answers 0.5 s late
    # and the two runs' first reads of each part's intent go upstream together, however far
    # apart the two flow processes started: both see that part's storage in the same state
    s3.proxy.meet(2)
    key = f"prod-race-{uuid.uuid4().hex[:8]}"
    runs = [
        cluster.run_deployment(DEPLOYMENT, queue, _parameters("prod-i", idempotency_key=key))
        for queue in queues
    ]
    done = [_final(cluster, run, 240) for run in runs]
    started = [
        [s.timestamp for s in cluster.read_states(run.id) if s.name == "Running"] for run in runs
    ]
    measured: dict[str, Any] = {
        "states": [run.state_name for run in done],
        "messages": [run.state.message if run.state else None for run in done],
        "run_counts": [run.run_count for run in done],
        "start_skew_s": (
            round(abs((started[1][0] - started[0][0]).total_seconds()), 2)
            if started[0] and started[1]
            else None
        ),
        "delayed_reads": s3.proxy.delayed,
        "reads_met": s3.proxy.met,
    }
    try:
        check_results("i", emulator, key, storage, measured)
    finally:
        _report("i", measured)
    assert s3.proxy.delayed > 0
    assert s3.proxy.met >= 2, measured  # the two runs read some part's intent together
    assert [run.state_type for run in done] == [StateType.COMPLETED] * 2, measured
    assert all(run.run_count == 1 for run in done)
    for run, worker in zip(runs, workers, strict=True):  # one run on each worker
        assert str(run.id) in worker.tail(3000)
