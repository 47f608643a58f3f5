"""The ways users come back into a batch, on a real server and workers: cases (e) to (i).

(e) only the flow-run process is SIGKILLed while its worker lives (during the wait, and
during an OpenAI create); the automations alone bring the run back. (f) a pipeline flow
that calls `run_batch` as a subflow fails after the submit and is retried from the UI; then
another such run is killed while it waits and retried. (g) a rerun after the results were
read calls no provider endpoint. (h) the status endpoint answers 529 a dozen times in a row
during the wait. (i) two runs with one idempotency key start together against slowed
storage. Each proves from the emulator's counters: one create per part, every result
correct, the run Completed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import StateType
from prefect.filesystems import LocalFileSystem

from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.orchestration.automations import RESUMABLE, RESUME_MESSAGE
from batchwork_prefect.orchestration.loading import load_batch_results
from harness import Cluster, kill_flow_run, kill_worker_tree, wait_until
from tests.crash.cases import EXPECTED, PARTS, PROMPTS, Case, default_storage

pytestmark = [pytest.mark.crash]

CAPITALS = {"fr": "Paris", "jp": "Tokyo"}
FIRST_20 = {p["custom_id"]: f"Emulated reply to: {p['prompt']}" for p in PROMPTS[:20]}


def _measured(emulator: Emulator, cluster: Cluster, run_id: str, **more: Any) -> dict[str, Any]:
    measured = {
        "creates": emulator.calls["create"],
        "batches": emulator.batches_created,
        "run_count": cluster.read_flow_run(run_id).run_count,
        "final": cluster.read_flow_run(run_id).state_name,
        **more,
    }
    print(f"measured {measured}")
    return measured


@pytest.mark.timeout(600)
def test_e_only_the_flow_process_dies_and_the_automations_bring_it_back(
    cluster: Cluster, make_emulator: Callable[..., Emulator], installed_automations: Any
) -> None:
    # Killed while waiting (batches stay open), and, through OpenAI's wire format, while a
    # create is in flight after the batch was made; the two runs go side by side.
    cases = [
        Case.start("b", cluster, make_emulator),
        Case.start("d", cluster, make_emulator, provider="openai"),
    ]
    for case in cases:
        wait_until(case.at_kill_point, 180, message=f"kill point ({case.point})")
        assert kill_flow_run(case.run_id)  # an OOM kill: the worker lives and reports it twice
        assert case.worker is not None and case.worker.alive()
        case.emulator.release()  # (d)'s held create answer goes to a dead process
    for case in cases:
        # its worker polls every second: a resume at the first report would be picked up
        # before the worker's own report lands on it
        done = case.finish(timeout=300, automated=True)
        history = cluster.history(case.run_id)
        names = [name for name, _ in history]
        print(f"case ({case.point}, {case.provider}): {len(names)} states")
        assert done.run_count == 2, history
        # one report landed (the second is refused on a Crashed run), the run was marked
        # and, once still, resumed; it then ran once: not twice at the same time
        assert names.count("Crashed") == 1, history
        assert names.index(RESUMABLE) < names.index("AwaitingRetry"), history
        assert names.count("Running") == 2 and names.count("Completed") == 1, history
        assert all(m == RESUME_MESSAGE for name, m in history if name == "AwaitingRetry"), history
        assert cluster.worker_finished(case.run_id)  # the worker did report how it ended
        case.check(default_storage(cluster))


def _capitals(cluster: Cluster, queue: str, block: str) -> str:
    run = cluster.run_deployment(
        "capital-cities/capital-cities", queue, {"credentials": block, "poll_interval": 1}
    )
    return str(run.id)


@pytest.mark.timeout(360)
def test_f_a_pipeline_retried_after_a_failure_and_after_a_kill_keeps_its_batch(
    cluster: Cluster, make_emulator: Callable[..., Emulator]
) -> None:
    emulator = make_emulator(block="pipeline-f", processing_seconds=3600, time_scale=0)
    emulator.add_fault(Fault(route="retrieve", status=404))  # the first poll: a failed wait
    queue = cluster.claim_queue()
    worker = cluster.start_worker(queue)
    run_id = _capitals(cluster, queue, "pipeline-f")
    cluster.wait_for_state(run_id, StateType.FAILED, timeout=120, fail_on_final=False)
    assert emulator.calls["create"] == 1  # it failed after the submit

    cluster.retry_from_ui(run_id)  # Retry of the pipeline run: a new subflow run
    polls = emulator.calls["retrieve"]
    wait_until(lambda: emulator.calls["retrieve"] >= polls + 2, 120, message="the retry's polls")
    kill_worker_tree(worker)  # the pipeline dies with its worker while the subflow waits
    cluster.retry_from_ui(run_id)
    cluster.start_worker(queue)
    polls = emulator.calls["retrieve"]
    wait_until(lambda: emulator.calls["retrieve"] > polls, 120, message="the last retry's poll")
    emulator.advance(3600)
    done = cluster.wait_for_state(run_id, StateType.COMPLETED, timeout=120)
    _measured(emulator, cluster, run_id, subflow_runs=len(cluster.subflow_runs(run_id)))
    assert done.run_count == 3
    assert emulator.calls["create"] == 1 and emulator.batches_created == 1
    # the retry after the failure ran a new subflow run (a new flow run id), which found
    # the batch by the pipeline's run id; after the kill Prefect may pick the same one up
    assert len(cluster.subflow_runs(run_id)) >= 2
    assert load_batch_results(run_id, storage=default_storage(cluster)).texts() == CAPITALS


@pytest.mark.timeout(300)
def test_g_a_rerun_after_the_read_calls_no_provider(
    cluster: Cluster, make_emulator: Callable[..., Emulator]
) -> None:
    emulator = make_emulator(block="rerun-g", time_scale=0)
    queue = cluster.claim_queue()
    cluster.start_worker(queue)
    parameters = {
        "model": "anthropic/claude-opus-4-8",
        "requests": PROMPTS[:20],
        "credentials": "rerun-g",
        "poll_interval": 1,
    }
    first = cluster.run_deployment("run-batch/run-batch", queue, parameters)
    cluster.wait_for_state(first.id, StateType.COMPLETED, timeout=120)
    keyed = {**parameters, "idempotency_key": "rerun-g"}
    second = cluster.run_deployment("run-batch/run-batch", queue, keyed)
    cluster.wait_for_state(second.id, StateType.COMPLETED, timeout=120)
    calls = dict(emulator.calls)
    emulator.stop()  # the provider is gone: a rerun that called it would fail
    cluster.retry_from_ui(first.id)  # Retry of a Completed run, from the UI
    third = cluster.run_deployment("run-batch/run-batch", queue, keyed)  # same key, new run
    for run_id in (first.id, third.id):
        cluster.wait_for_state(run_id, StateType.COMPLETED, timeout=120, name="Completed")
    _measured(emulator, cluster, str(first.id))
    assert cluster.read_flow_run(first.id).run_count == 2
    assert dict(emulator.calls) == calls
    assert emulator.calls["create"] == 2


@pytest.mark.timeout(300)
def test_h_a_dozen_overloaded_polls_do_not_end_the_wait(
    cluster: Cluster, make_emulator: Callable[..., Emulator]
) -> None:
    emulator = make_emulator(block="overload-h", time_scale=0)
    # every status poll after the create answers 529 a dozen times in a row
    emulator.add_fault(Fault(route="retrieve", status=529, times=12, retry_after_ms=1))
    queue = cluster.claim_queue()
    cluster.start_worker(queue)
    parameters = {
        "model": "anthropic/claude-opus-4-8",
        "requests": PROMPTS[:20],
        "credentials": "overload-h",
        "poll_interval": 1,
        "max_poll_interval": 2,
    }
    run = cluster.run_deployment("run-batch/run-batch", queue, parameters)
    done = cluster.wait_for_state(run.id, StateType.COMPLETED, timeout=240)
    _measured(emulator, cluster, str(run.id), retrieves=emulator.calls["retrieve"])
    assert done.run_count == 1
    assert emulator.calls["retrieve"] > 12
    assert emulator.calls["create"] == 1
    results = load_batch_results(str(run.id), storage=default_storage(cluster))
    assert results.texts() == FIRST_20
    with cluster.settings(), get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])))
    assert any("still waiting" in log.message for log in logs), [log.message for log in logs]


@pytest.mark.timeout(300)
def test_i_two_runs_with_one_key_started_together_create_once(
    cluster: Cluster, make_emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emulator = make_emulator(block="together-i", time_scale=0)
    storage = LocalFileSystem(basepath=str(tmp_path / "together"))
    with cluster.settings():
        storage.save("together-i", overwrite=True)
    queues = [cluster.claim_queue(), cluster.claim_queue()]
    parameters = {
        "model": "anthropic/claude-opus-4-8",
        "requests": PROMPTS,
        "credentials": "together-i",
        "poll_interval": 1,
        "max_requests_per_batch": 100,
        "idempotency_key": "together-i",
        "result_storage": "local-file-system/together-i",
    }
    # both runs are created first, then both workers start: they pick them up together
    runs = [cluster.run_deployment("run-batch/run-batch", q, parameters) for q in queues]
    for queue in queues:
        cluster.start_worker(queue, wait_ready=False)
    for run in runs:
        cluster.wait_for_state(run.id, StateType.COMPLETED, timeout=240)
    _measured(emulator, cluster, str(runs[0].id))
    assert emulator.calls["create"] == PARTS and emulator.batches_created == PARTS
    assert load_batch_results("together-i", storage=storage).texts() == EXPECTED
