"""Retry rounds on a real server and process workers, for both providers' wire formats.

Each run sends three requests whose markers need one, two and three submissions, so it
goes through three rounds of one batch each (`round_cases.py`). The cases: the worker and
the flow-run process SIGKILLed between rounds (round 1 read, round 2 not created) and
while round 2's create is in flight after the emulator made the batch, each followed by a
Retry as the UI does it; the flow-run process alone killed at round 2's create, brought
back by the automations; a released run (`wait="release"`) suspended and resumed by the
poller for every round; and a Retry of Completed runs (in-process and released, for each
provider), which calls no provider endpoint. Each ends Completed with one batch per round,
each request sent exactly as often as its marker needs, and one result per request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from prefect.client.schemas.objects import StateType

from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.automations import automatic_resumes
from harness import (
    Cluster,
    flow_run_processes,
    kill_flow_run,
    kill_worker_tree,
    surviving,
)
from tests.crash.round_cases import BATCH_SECONDS, RoundCase
from tests.crash.test_release_mode import suspended

pytestmark = [pytest.mark.crash]

PROVIDERS = ("anthropic", "openai")
ROUNDS = 3


def _kill_worker_tree(case: RoundCase) -> None:
    assert case.worker is not None
    tree = case.worker.tree()
    assert len(tree) >= 2, tree  # the worker and the flow-run process
    assert set(flow_run_processes(case.run_id)) <= set(tree)
    killed = kill_worker_tree(case.worker)
    assert surviving(killed) == [] and flow_run_processes(case.run_id) == []
    assert case.cluster.read_flow_run(case.run_id).state_type == StateType.RUNNING


@pytest.mark.timeout(600)
def test_rounds_killed_between_and_mid_create_retried_from_the_ui_and_released_rounds(
    cluster: Cluster, make_emulator: Callable[..., Emulator]
) -> None:
    # side by side, each with its own emulator, queue and worker; one poller for all
    started, phases = time.monotonic(), {}
    cases = [
        RoundCase.start(point, provider, cluster, make_emulator)
        for point in ("between", "create", "release")
        for provider in PROVIDERS
    ]
    cluster.start_poller("poller-rounds")
    killed = [case for case in cases if case.point != "release"]
    released = [case for case in cases if case.point == "release"]
    for case in killed:
        case.to_kill_point()
        _kill_worker_tree(case)
        case.let_round_2_go()  # the claim is released, the held create answer is lost
        cluster.retry_from_ui(case.run_id)
        case.worker = cluster.start_worker(case.queue, wait_ready=False)
    phases["killed and retried"] = time.monotonic() - started
    for attempt in range(1, ROUNDS + 1):
        for case in released:
            suspended(cluster, case.run_id, times=attempt)  # no process while it waits
            assert case.emulator.batches_created == attempt
            # the suspension for this round's batch is not a resume for nothing: the poller
            # resumes it without backing off (its log, if kept meanwhile, counts none)
            log = case.resume_log()
            case.measured.setdefault("resume_logs", []).append(log and log["fruitless"])
            assert log is None or log["fruitless"] == 0, log
            case.emulator.advance(BATCH_SECONDS)  # the round's batch ends; the poller resumes
    for case in cases:
        case.finish()
        names = cluster.state_names(case.run_id)
        states = {n: names.count(n) for n in ("Running", "Suspended", "Resuming")}
        case.measured["states"] = states
        if case in released:  # suspended and resumed once per round, never killed
            assert states == {"Running": ROUNDS + 1, "Suspended": ROUNDS, "Resuming": ROUNDS}
            case.check(run_count=1)  # a resume goes on with the run: not counted as a rerun
        else:
            assert case.measured["creates_at_kill"] == (1 if case.point == "between" else 2)
            case.check(run_count=2)
    phases["completed"] = time.monotonic() - started
    # a Retry of a Completed run, once per provider and wait mode (the in-process ones were
    # killed once already)
    reruns = [case for case in cases if case.point in ("between", "release")]
    for case in reruns:
        case.retry_after_the_end()
    for case in reruns:
        case.check_rerun()
    phases["rerun"] = time.monotonic() - started
    print(f"measured phases (s from start): { {k: round(v) for k, v in phases.items()} }")


@pytest.mark.timeout(600)
def test_the_flow_process_killed_at_round_2_s_create_is_brought_back_by_the_automations(
    cluster: Cluster, make_emulator: Callable[..., Emulator], installed_automations: Any
) -> None:
    cases = [RoundCase.start("create", provider, cluster, make_emulator) for provider in PROVIDERS]
    for case in cases:
        case.kill = "flow process only"
        case.to_kill_point()
        assert kill_flow_run(case.run_id)  # an OOM kill: the worker lives and reports it
        assert case.worker is not None and case.worker.alive()
        case.let_round_2_go()
    for case in cases:
        case.finish(automated=True)
        history = cluster.history(case.run_id)
        assert automatic_resumes(history) == 1, history
        assert [name for name, _ in history].count("Crashed") == 1, history
        case.check(run_count=2)
