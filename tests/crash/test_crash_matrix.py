"""The crash matrix: SIGKILL a worker and its flow run at four points, then recover.

Every case runs the `run-batch` deployment from prefect.yaml on a real server and worker,
with 250 requests split into 3 parts (100/100/50), against its own emulator. The worker and
the flow-run process are SIGKILLed (a) right after submit, (b) during the wait, (c) during
the results download, (d) while a create is in flight after the emulator made the batch;
(d) is run for OpenAI's wire format too (the file is uploaded, the create answer is lost).
Recovery is (i) a Retry as the UI does it, picked up by a new worker, or (ii) the
automations of `batchwork-prefect install-automations` alone. Each case must end Completed
with exactly one provider batch per part and every result present and correct.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prefect.client.schemas.objects import StateType
from prefect.filesystems import LocalFileSystem
from prefect.states import State

from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.automations import (
    RESUME_MESSAGE,
    STALLED_MESSAGE,
    automatic_resumes,
)
from harness import ZOMBIE_AFTER_SECONDS, Cluster, wait_until
from tests.crash.cases import Case, default_storage

pytestmark = [pytest.mark.crash]


POINTS = [("a", "anthropic"), ("b", "anthropic"), ("c", "anthropic"), ("d", "anthropic")]
POINTS.append(("d", "openai"))
POINTS.append(("d", "together"))
POINTS.append(("d", "mistral"))
POINTS.append(("d", "xai"))
POINTS.append(("d", "gemini"))


@pytest.mark.timeout(600)
def test_kill_at_every_point_then_retry_from_the_ui_on_a_new_worker(
    cluster: Cluster, make_emulator: Callable[..., Emulator]
) -> None:
    # The cases run side by side, each with its own emulator, queue and workers: every kill
    # point holds its run still (held answers, open batches) until the case moves it.
    cases = [Case.start(point, cluster, make_emulator, provider=p) for point, p in POINTS]
    for case in cases:
        case.kill()
        cluster.retry_from_ui(case.run_id)
        cluster.start_worker(case.queue)
    for case in cases:
        done = case.finish()
        assert done.run_count == 2, (case.point, case.provider)
        case.check(default_storage(cluster))


@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    "provider", [p for point, p in POINTS if point == "d" and p != "anthropic"]
)
def test_a_lost_create_of_one_provider_is_adopted_once(
    cluster: Cluster, make_emulator: Callable[..., Emulator], provider: str
) -> None:
    """Case (d) alone for one provider (`-k <provider>`): its create held, the worker
    killed, the run retried from the UI; the rerun adopts the one job the create made."""
    case = Case.start("d", cluster, make_emulator, provider=provider)
    case.kill()
    cluster.retry_from_ui(case.run_id)
    cluster.start_worker(case.queue)
    assert case.finish().run_count == 2
    case.check(default_storage(cluster))


@pytest.mark.timeout(600)
def test_kill_at_every_point_then_the_automations_resume_each_run(
    cluster: Cluster, make_emulator: Callable[..., Emulator], installed_automations: Any
) -> None:
    cases = [Case.start(point, cluster, make_emulator, provider=p) for point, p in POINTS]
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
        case.check(default_storage(cluster))


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
