"""Smoke test of the crash harness: a run goes to the worker of its queue only.

(Killing a worker tree is checked by every case of the crash matrix: `Case.kill`.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prefect.client.schemas.objects import StateType

from batchwork_prefect.emulator import Emulator
from harness import (
    Cluster,
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
