"""The crash matrix: SIGKILL a worker and its flow run at four points, then recover.

Every case runs the `run-batch` deployment from prefect.yaml on a real server and worker,
with 250 requests split into 3 parts (100/100/50), against its own emulator. The worker and
the flow-run process are SIGKILLed (a) right after submit, (b) during the wait, (c) during
the results download, (d) while a create is in flight after the emulator made the batch.
Recovery is (i) a Retry as the UI does it, picked up by a new worker, or (ii) the
automations of `batchwork-prefect install-automations` alone. Each case must end Completed
with exactly one provider batch per part and every result present and correct.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.filesystems import LocalFileSystem
from prefect.states import State

from batchwork_prefect.automations import (
    RESUME_MESSAGE,
    STALLED_MESSAGE,
    automatic_resumes,
    automations,
)
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.persistence import load_batch_results

from .cluster import Cluster, Worker, kill_worker_tree, surviving, wait_until

pytestmark = [pytest.mark.crash]

DEPLOYMENT = "run-batch/run-batch"
PARTS = 3
PROMPTS = [{"custom_id": f"q{index:03d}", "prompt": f"Question {index}"} for index in range(250)]
EXPECTED = {p["custom_id"]: f"Emulated reply to: {p['prompt']}" for p in PROMPTS}
ZOMBIE_AFTER_SECONDS = 45  # heartbeats come every 30 s (prefect.yaml)


@dataclass
class Case:
    """One kill point: how its emulator is set up, when to kill, what to do after."""

    point: str
    cluster: Cluster
    emulator: Emulator
    queue: str
    run: FlowRun | None = None
    worker: Worker | None = None
    measured: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        point: str,
        cluster: Cluster,
        make_emulator: Callable[..., Emulator],
        storage: str | None = None,
    ) -> Case:
        """Set the emulator up for `point` and start the run on a fresh queue and worker."""
        ending = point in ("c", "d")  # (a) and (b) need the batches to stay open
        emulator = make_emulator(
            block=f"emulator-{point}",
            processing_seconds=0 if ending else 3600,
            time_scale=0,
        )
        if point == "a":
            emulator.add_fault(Fault(route="retrieve", hold_after_bytes=0, times=PARTS))
        elif point == "c":
            emulator.add_fault(Fault(route="results", hold_after_bytes=1000, times=PARTS))
        elif point == "d":
            emulator.add_fault(Fault(route="create", hold_after_bytes=0))
        case = cls(point, cluster, emulator, cluster.claim_queue())
        case.worker = cluster.start_worker(case.queue)
        parameters: dict[str, Any] = {
            "model": "anthropic/claude-opus-4-8",
            "requests": PROMPTS,
            "credentials": f"emulator-{point}",
            "max_requests_per_batch": 100,
            "poll_interval": 1,
            "max_poll_interval": 2,
        }
        if storage:
            parameters["result_storage"] = storage
        case.run = cluster.run_deployment(DEPLOYMENT, case.queue, parameters)
        return case

    @property
    def run_id(self) -> str:
        assert self.run is not None
        return str(self.run.id)

    def at_kill_point(self) -> bool:
        """Whether the run has reached the point where this case kills it."""
        emu = self.emulator
        if self.point == "a":  # every part created, each wait's first poll held
            return emu.batches_created == PARTS and emu.held == PARTS
        if self.point == "b":  # every part polled at least twice
            return emu.batches_created == PARTS and emu.calls["retrieve"] >= 2 * PARTS
        if self.point == "c":  # every part's results download is in flight
            return emu.held == PARTS
        return emu.held == 1 and emu.batches_created == 1  # (d): a create is in flight

    def kill(self, worker: Worker | None = None) -> None:
        """Wait for the kill point, SIGKILL the worker tree, let held responses go."""
        wait_until(self.at_kill_point, 180, message=f"kill point ({self.point})")
        victim = worker or self.worker
        assert victim is not None
        killed = kill_worker_tree(victim)
        assert surviving(killed) == []
        self.measured["creates_before_kill"] = self.emulator.calls["create"]
        self.emulator.release()
        assert self.cluster.read_flow_run(self.run_id).state_type == StateType.RUNNING

    def finish(self, timeout: float = 240, *, automated: bool = False) -> FlowRun:
        """Let open batches end once the rerun polls them; wait for Completed.

        `automated`: the automations resume the run, so Crashed is on its way, not final.
        """
        if self.point in ("a", "b"):
            polls = self.emulator.calls["retrieve"]
            wait_until(
                lambda: self.emulator.calls["retrieve"] > polls,
                timeout,
                message=f"the rerun's poll ({self.point})",
            )
            self.emulator.advance(3600)
        return self.cluster.wait_for_state(
            self.run_id, StateType.COMPLETED, timeout=timeout, crash_is_final=not automated
        )

    def check(self, storage: LocalFileSystem) -> None:
        """Exactly one batch per part, every result present and correct; record the counts."""
        emu = self.emulator
        results = load_batch_results(self.run_id, storage=storage)
        self.measured.update(
            creates=emu.calls["create"],
            batches=emu.batches_created,
            results=len(results),
            downloads=emu.calls["results"],
            run_count=self.cluster.read_flow_run(self.run_id).run_count,
        )
        print(f"case ({self.point}): {self.measured}")
        assert emu.batches_created == PARTS, self.measured
        assert emu.calls["create"] == PARTS, self.measured
        assert len(set(results.batch_ids)) == PARTS
        assert results.texts() == EXPECTED
        if self.point == "d":
            notes = [intent["note"] for intent in self._intents(storage)]
            assert notes.count("adopted from list") == 1, notes

    def _intents(self, storage: LocalFileSystem) -> list[dict[str, Any]]:
        folder = Path(str(storage.basepath)) / "batchwork" / self.run_id
        return [orjson.loads(path.read_bytes()) for path in folder.rglob("intent.json")]


def _default_storage(cluster: Cluster) -> LocalFileSystem:
    return LocalFileSystem(basepath=str(cluster.storage_path))


@pytest.mark.timeout(300)
@pytest.mark.parametrize("point", ["a", "b", "c", "d"])
def test_kill_then_retry_from_the_ui_on_a_new_worker(
    point: str, cluster: Cluster, make_emulator: Callable[..., Emulator]
) -> None:
    case = Case.start(point, cluster, make_emulator)
    case.kill()
    cluster.retry_from_ui(case.run_id)
    cluster.start_worker(case.queue)
    done = case.finish()
    assert done.run_count == 2
    case.check(_default_storage(cluster))


@pytest.fixture
def installed_automations(cluster: Cluster) -> Any:
    """`batchwork-prefect install-automations`, run as a user would; removed afterwards."""
    command = [sys.executable, "-m", "batchwork_prefect.cli", "install-automations"]
    command += ["--zombie-after", str(ZOMBIE_AFTER_SECONDS)]
    output = subprocess.run(
        command, env=cluster.env(), capture_output=True, text=True, check=True, timeout=120
    ).stdout
    names = [automation.name for automation in automations()]
    assert all(name in output for name in names), output
    yield names
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        for name in names:
            for automation in client.read_automations_by_name(name):
                client.delete_automation(automation.id)


@pytest.mark.timeout(600)
def test_kill_at_every_point_then_the_automations_resume_each_run(
    cluster: Cluster, make_emulator: Callable[..., Emulator], installed_automations: Any
) -> None:
    cases = [Case.start(point, cluster, make_emulator) for point in "abcd"]
    for case in cases:
        case.kill()
        cluster.start_worker(case.queue)  # idle until the automations put the run back
    for case in cases:
        done = case.finish(timeout=300, automated=True)
        assert done.run_count == 2
        history = cluster.history(case.run_id)
        # one resume, made by the automation (its action may be delivered twice)
        assert automatic_resumes(history) == 1, (case.point, history)
        assert ("AwaitingRetry", RESUME_MESSAGE) in history, (case.point, history)
        assert "Crashed" in [name for name, _ in history], (case.point, history)
        case.check(_default_storage(cluster))


@pytest.mark.timeout(300)
def test_the_automations_resume_a_started_run_and_leave_a_start_up_crash(
    cluster: Cluster, installed_automations: Any
) -> None:
    queue = cluster.claim_queue()  # no worker: the run moves only when the test moves it
    run = cluster.run_deployment("capital-cities/capital-cities", queue)
    stalled = STALLED_MESSAGE.format(zombie_after=timedelta(seconds=ZOMBIE_AFTER_SECONDS))

    def resumes() -> int:
        return sum(1 for name in cluster.state_names(run.id) if name == "AwaitingRetry")

    def crash(message: str, *, started: bool) -> None:
        first = State(type=StateType.RUNNING if started else StateType.PENDING)
        cluster.force_state(run.id, first)
        cluster.force_state(run.id, State(type=StateType.CRASHED, message=message))

    crash("Flow run infrastructure exited with non-zero status code -9.", started=True)
    wait_until(lambda: resumes() == 1, 120, message="the first resume")
    # Crashed again before it ran (its flow module failed to import): not resumed
    crash("Flow run infrastructure exited with non-zero status code 1.", started=False)
    # Started and crashed again: resumed. Actions are carried out in the order their
    # events came, so a resume of the start-up crash would be in the history by then.
    crash("Flow run infrastructure exited with non-zero status code -9.", started=True)
    wait_until(lambda: resumes() >= 2, 120, message="the second resume")
    history = cluster.history(run.id)
    names = [name for name, _ in history]
    start_up_crash = names.index("Crashed", names.index("Pending", names.index("AwaitingRetry")))
    assert names[start_up_crash + 1] == "Running", history  # nothing resumed it
    assert names.count("AwaitingRetry") == 2, history

    # Marked stalled, then marked again after the resume (the stalled automation can fire
    # twice, and on SQLite both Crashed states can land): resumed both times, one start.
    crash(stalled, started=True)
    wait_until(lambda: resumes() >= 3, 120, message="the stalled run's resume")
    cluster.force_state(run.id, State(type=StateType.CRASHED, message=stalled))
    wait_until(lambda: resumes() >= 4, 120, message="the resume of the second mark")
    history = cluster.history(run.id)
    assert history[-1] == ("AwaitingRetry", RESUME_MESSAGE), history
    assert automatic_resumes([*history, ("Running", None)]) == 3, history


@pytest.mark.timeout(300)
def test_two_workers_share_a_storage_block_and_the_survivor_finishes(
    cluster: Cluster, make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    shared = LocalFileSystem(basepath=str(tmp_path / "shared-results"))
    with cluster.settings():
        shared.save("crash-shared", overwrite=True)
    case = Case.start("b", cluster, make_emulator, storage="local-file-system/crash-shared")
    other = cluster.start_worker(case.queue)
    wait_until(lambda: cluster.worker_running(case.run_id) is not None, 120, message="pickup")
    running = cluster.worker_running(case.run_id)
    survivor = other if running is case.worker else case.worker
    assert running is not None and survivor is not None
    case.kill(worker=running)
    assert survivor.alive()
    cluster.retry_from_ui(case.run_id)
    case.finish()
    assert case.run_id in survivor.tail(2000)  # the survivor picked the retry up
    case.check(shared)
    assert list((tmp_path / "shared-results" / "batchwork" / case.run_id).rglob("submit.json"))
