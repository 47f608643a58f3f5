"""Smoke tests of the crash harness: a run on a real worker, and a SIGKILLed worker tree."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prefect.client.schemas.objects import StateType

from batchwork_prefect.emulator import Emulator
from tests.crash.cluster import (
    Cluster,
    flow_run_processes,
    kill_worker_tree,
    marked_processes,
    surviving,
    wait_until,
)

pytestmark = [pytest.mark.crash, pytest.mark.timeout(300)]

CAPITALS = "capital-cities/capital-cities"


def test_capital_cities_completes_on_the_worker_of_its_queue(
    cluster: Cluster, make_emulator: Callable[..., Emulator]
) -> None:
    emu = make_emulator()
    queue, other_queue = cluster.claim_queue(), cluster.claim_queue()
    bystander = cluster.start_worker(other_queue)

    run = cluster.run_deployment(CAPITALS, queue, {"poll_interval": 1})
    assert run.work_queue_name == queue
    worker = cluster.start_worker(queue)  # the bystander polled meanwhile (every second)
    done = cluster.wait_for_state(run.id, StateType.COMPLETED, timeout=120)

    assert done.run_count == 1
    assert emu.batches_created == 1
    assert emu.calls["create"] == 1
    assert emu.calls["retrieve"] >= 1
    assert emu.calls["results"] == 1
    assert str(run.id) in worker.tail(400)
    assert str(run.id) not in bystander.tail(400)


def test_sigkilled_worker_tree_then_ui_retry_resumes_the_same_batch(
    cluster: Cluster, make_emulator: Callable[..., Emulator]
) -> None:
    emu = make_emulator(processing_seconds=3600, time_scale=0)  # never ends by itself
    queue = cluster.claim_queue()
    worker = cluster.start_worker(queue)
    run = cluster.run_deployment(CAPITALS, queue, {"poll_interval": 1})
    wait_until(lambda: emu.calls["retrieve"] >= 1, 120, message="the first poll")

    assert cluster.worker_running(run.id) is worker
    tree = worker.tree()
    assert len(tree) >= 2, tree  # the worker and the flow-run process
    assert set(flow_run_processes(run.id)) <= set(tree)
    killed = kill_worker_tree(worker)
    assert set(tree) <= set(killed)
    assert surviving(killed) == []
    assert marked_processes(worker.name) == []
    assert flow_run_processes(run.id) == []
    assert not worker.alive()
    assert cluster.read_flow_run(run.id).state_type == StateType.RUNNING  # a zombie now

    polls_before = emu.calls["retrieve"]
    cluster.retry_from_ui(run.id)
    assert cluster.read_flow_run(run.id).state_name == "AwaitingRetry"
    cluster.start_worker(queue)
    wait_until(lambda: emu.calls["retrieve"] > polls_before, 120, message="the rerun's poll")
    emu.advance(3600)
    done = cluster.wait_for_state(run.id, StateType.COMPLETED, timeout=120)

    assert done.run_count == 2
    names = cluster.state_names(run.id)
    assert names[names.index("AwaitingRetry") - 1] == "Running"
    assert names[-1] == "Completed"
    assert emu.batches_created == 1, f"the rerun submitted again: {emu.calls}"
