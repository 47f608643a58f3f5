"""Release mode on `prefect server start` + process workers + `batchwork-prefect poller`.

A released run suspends itself while its batches run: no process of it is alive, its
worker is free. The poller resumes it once every batch has ended. The emulator's clock is
frozen (`time_scale=0`) and moved by hand, so "the batches are still running" holds for as
long as a test needs it to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect.client.schemas.objects import FlowRun, StateType

from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.persistence import load_batch_results
from tests.crash.cases import DEPLOYMENT, EXPECTED, MODELS, PARTS, PROMPTS, default_storage
from tests.crash.cluster import Cluster, flow_run_processes, wait_until

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


def test_a_released_run_holds_no_process_while_its_batches_run(
    cluster: Cluster, make_emulator: Callable[..., Emulator]
) -> None:
    emulator, _, run = start_released(cluster, make_emulator, "release-basic")
    run_id = str(run.id)
    cluster.start_poller("poller-basic")
    suspended(cluster, run_id)
    assert flow_run_processes(run_id) == []
    assert emulator.batches_created == PARTS
    pending = cluster.poller_status()
    assert sorted(row["part"] for row in pending if row["run"] == run_id) == [0, 1, 2]
    polls = emulator.calls["retrieve"]
    wait_until(
        lambda: emulator.calls["retrieve"] >= polls + PARTS, 60, message="the poller's polls"
    )
    assert cluster.read_flow_run(run_id).state_name == "Suspended"  # still running batches
    emulator.advance(BATCH_SECONDS)
    cluster.wait_for_state(run_id, StateType.COMPLETED, timeout=120)
    names = cluster.state_names(run_id)
    assert names.count("Suspended") == 1 and names.count("Resuming") == 1, names
    assert emulator.calls["create"] == PARTS  # each part created once, in the first attempt
    results = load_batch_results(run_id, storage=default_storage(cluster))
    assert results.texts() == EXPECTED
    assert [row for row in cluster.poller_status() if row["run"] == run_id] == []
