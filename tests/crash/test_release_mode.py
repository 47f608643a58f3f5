"""Release mode on `prefect server start` + process workers + `batchwork-prefect poller`.

A released run suspends itself while its batches run: no process of it is alive, its
worker is free. The poller resumes it once every batch has ended. The emulator's clock is
frozen (`time_scale=0`) and moved by hand, so "the batches are still running" holds for as
long as a test needs it to. Two tests walk every neighbour of the claim: the first one run
through a Resume pressed early; the second three runs on one worker slot through two
pollers, a poller and the worker killed, and a poller restarted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest
from prefect import get_client
from prefect.blocks.system import Secret
from prefect.client.schemas.objects import FlowRun, StateType

from batchwork_prefect import verify_webhook
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.loading import load_batch_results
from batchwork_prefect.orchestration.wait_store import WaitStore
from batchwork_prefect.orchestration.waits import WaitRecord
from harness import Cluster, flow_run_processes, kill_worker_tree, wait_until
from tests.crash.cases import DEPLOYMENT, EXPECTED, MODELS, PARTS, PROMPTS, default_storage
from tests.support.webhooks import Receiver

WEBHOOK_SECRET = "whsec_dGhpcy1pcy10aGUtd2ViaG9vay1zaWduaW5nLWtleQ=="

BATCH_SECONDS = 600.0
"""Emulated run time of every batch: ten minutes, passed by `emulator.advance`."""


def release_parameters(block: str, provider: str = "anthropic", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODELS[provider],
        "requests": PROMPTS,
        "credentials": block,
        "max_requests_per_batch": 100,
        "poll_interval": 1,
        "max_poll_interval": 2,
        "wait": "release",
        **extra,
    }


def start_released(
    cluster: Cluster, make_emulator: Callable[..., Emulator], block: str, **extra: Any
) -> tuple[Emulator, str, FlowRun]:
    emulator = make_emulator(block=block, processing_seconds=BATCH_SECONDS, time_scale=0)
    queue = cluster.claim_queue()
    cluster.start_worker(queue)
    run = cluster.run_deployment(DEPLOYMENT, queue, release_parameters(block, **extra))
    return emulator, queue, run


def suspended(cluster: Cluster, run_id: str, times: int = 1, timeout: float = 120) -> None:
    """Wait until the run has been Suspended `times` times and is so now, its process gone."""
    wait_until(
        lambda: (
            cluster.state_names(run_id).count("Suspended") >= times
            and cluster.read_flow_run(run_id).state_name == "Suspended"
        ),
        timeout,
        message=lambda: (
            f"suspension {times}: {cluster.state_names(run_id)}\n{cluster.worker_logs()}"
        ),
    )
    wait_until(lambda: not flow_run_processes(run_id), 30, message="the run's process to exit")


def waiting(cluster: Cluster, runs: list[str]) -> list[WaitRecord]:
    """The wait records of `runs` (what `batchwork-prefect poller status` lists)."""
    with cluster.settings(), get_client(sync_client=True) as client:
        return [record for record in WaitStore(client).read_all() if record.run in runs]


def resume_by_hand(cluster: Cluster, run_id: str) -> None:
    """What the UI's Resume button does."""
    with cluster.settings(), get_client(sync_client=True) as client:
        result = client.resume_flow_run(UUID(run_id))
    assert result.status.value == "ACCEPT", result


def test_a_released_run_holds_no_process_and_a_resume_pressed_early_suspends_it_again(
    cluster: Cluster, make_emulator: Callable[..., Emulator]
) -> None:
    emulator, _, run = start_released(cluster, make_emulator, "release-basic")
    run_id = str(run.id)
    suspended(cluster, run_id)
    assert flow_run_processes(run_id) == []
    assert emulator.batches_created == PARTS
    first = waiting(cluster, [run_id])
    assert sorted(record.part for record in first) == [0, 1, 2]

    resume_by_hand(cluster, run_id)  # the batches still run
    suspended(cluster, run_id, times=2)
    assert cluster.read_flow_run(run_id).state_type == StateType.PAUSED  # not Failed
    again = waiting(cluster, [run_id])
    assert [r.batch_id for r in again] == [r.batch_id for r in first]
    assert {r.suspension for r in again}.isdisjoint({r.suspension for r in first})
    assert emulator.calls["create"] == PARTS  # the submits came from their records

    status = cluster.batchwork("poller", "status")
    assert f"{PARTS} batch(es) of 1 run(s) waiting" in status.splitlines()[0]
    cluster.start_poller("poller-basic")
    polls = emulator.calls["retrieve"]
    wait_until(lambda: emulator.calls["retrieve"] >= polls + PARTS, 60, message="its polls")
    assert cluster.read_flow_run(run_id).state_name == "Suspended"  # still running batches
    emulator.advance(BATCH_SECONDS)
    cluster.wait_for_state(run_id, StateType.COMPLETED, timeout=120)
    names = cluster.state_names(run_id)
    assert names.count("Suspended") == 2 and names.count("Resuming") == 2, names
    assert emulator.calls["create"] == PARTS
    results = load_batch_results(run_id, storage=default_storage(cluster))
    assert results.texts() == EXPECTED
    assert waiting(cluster, [run_id]) == []


# its own waits are bounded (60 s, 60 s, then 180 s a run); on a loaded CI machine the three
# runs' turns on the one slot took over the default 120 s
@pytest.mark.timeout(600)
def test_runs_on_one_slot_wait_together_through_killed_restarted_and_twin_pollers(
    cluster: Cluster, make_emulator: Callable[..., Emulator], receiver: Receiver
) -> None:
    """Three runs through a worker with one slot, all waiting at once. Two pollers poll
    them; one is SIGKILLed with the worker (no flow-run process is left to kill); a new
    poller starts beside the other, a new worker comes. Each run is resumed once, Completes,
    and sends one signed webhook id."""
    emulator = make_emulator(block="release-two", processing_seconds=BATCH_SECONDS, time_scale=0)
    with cluster.settings():
        Secret(value=WEBHOOK_SECRET).save("release-webhook", overwrite=True)
    queue = cluster.claim_queue()
    worker = cluster.start_worker(queue, limit=1)
    parameters = release_parameters(
        "release-two",
        requests=PROMPTS[:20],
        webhook_url=receiver.url,
        webhook_secret_block="release-webhook",
    )
    runs = [str(cluster.run_deployment(DEPLOYMENT, queue, parameters).id) for _ in range(3)]
    killed = cluster.start_poller("poller-killed")
    cluster.start_poller("poller-twin")
    for run_id in runs:
        suspended(cluster, run_id)
    assert emulator.batches_created == 3  # all three wait at once on one slot
    wait_until(lambda: all(r.polls >= 1 for r in waiting(cluster, runs)), 60, message="first polls")
    killed.kill()
    assert kill_worker_tree(worker) == [worker.pid]  # no flow-run process was alive
    kept = waiting(cluster, runs)
    assert len(kept) == 3 and all(r.polls >= 1 for r in kept)  # the schedule outlives them

    emulator.advance(BATCH_SECONDS)
    cluster.start_poller("poller-restarted")
    for run_id in runs:  # resumed while no worker runs: they wait, Scheduled
        cluster.wait_for_state(run_id, StateType.SCHEDULED, name="Resuming", timeout=60)
    cluster.start_worker(queue, limit=1)
    for run_id in runs:
        cluster.wait_for_state(run_id, StateType.COMPLETED, timeout=180)
        names = cluster.state_names(run_id)
        assert names.count("Resuming") == 1 and names.count("Running") == 2, names
    assert emulator.calls["create"] == 3
    by_id: dict[str, set[bytes]] = {}
    for headers, body, _ in receiver.requests:
        verify_webhook(headers, body, WEBHOOK_SECRET)
        by_id.setdefault(headers["webhook-id"], set()).add(body)
    assert len(by_id) == 3  # one id per batch
    assert all(len(bodies) == 1 for bodies in by_id.values())  # a repeat is the same event
