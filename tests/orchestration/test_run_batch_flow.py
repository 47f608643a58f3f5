"""`run_batch` end to end on a real Prefect server against the emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.flow_engine import run_flow
from prefect.states import State

from batchwork_prefect import (
    AnthropicCredentials,
    BatchResults,
    ConfigurationError,
    load_batch_results,
    run_batch,
)
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.orchestration.artifact_keys import artifact_key, flow_or_deployment_name
from tests.support import API_KEY

MODEL = "anthropic/claude-opus-4-8"
CAPITALS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]


def _run(emulator: Emulator, **options: Any) -> State[BatchResults]:
    parameters: dict[str, Any] = {
        "model": MODEL,
        "requests": CAPITALS,
        "credentials": AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url),
        "poll_interval": 0.05,
        **options,
    }
    state: State[BatchResults] = run_batch(**parameters, return_state=True)
    return state


def _flow_run_id(state: State[Any]) -> UUID:
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    return flow_run_id


def test_flow_returns_normalized_results_and_persists_json(
    emulator: Emulator, prefect_home: Path
) -> None:
    state = _run(emulator)
    results = state.result()
    assert isinstance(results, BatchResults)
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    run_id = str(_flow_run_id(state))
    # a top-level run's batch is its own first call site
    folder = prefect_home / "storage" / "batchwork" / run_id / "call-1"
    records = list(folder.glob("*/part-0-*/*.json"))
    assert sorted(path.name for path in records) == [
        "claim-0.json",
        "ended.json",
        "intent.json",
        "results.json",
        "submit.json",
    ]
    intent = orjson.loads(next(path for path in records if path.name == "intent.json").read_bytes())
    assert intent["state"] == "created" and intent["batch_id"] == results.batch_ids[0]
    claim = orjson.loads(next(path for path in records if path.name == "claim-0.json").read_bytes())
    assert claim["released"] is True and claim["flow_run_id"] == run_id
    for path in (path for path in records if path.name not in ("intent.json", "claim-0.json")):
        envelope = orjson.loads(path.read_bytes())
        assert envelope["metadata"]["serializer"]["type"] == "batchwork-json"
        payload = orjson.loads(envelope["result"])  # the payload itself is plain JSON
        assert len(payload["sha256"]) == 64
    assert load_batch_results(run_id) == results
    assert load_batch_results(f"{run_id}/call-1") == results


def test_same_idempotency_key_neither_resubmits_nor_downloads_again(emulator: Emulator) -> None:
    first = _run(emulator, idempotency_key="partition-2026-11-25").result()
    second = _run(emulator, idempotency_key="partition-2026-11-25").result()
    assert second == first
    assert emulator.calls["create"] == 1
    assert emulator.calls["results"] == 1
    assert emulator.batches_created == 1
    assert load_batch_results("partition-2026-11-25") == first


def test_a_new_run_without_a_key_submits_anew(emulator: Emulator) -> None:
    _run(emulator).result()
    _run(emulator).result()
    assert emulator.calls["create"] == 2


def test_a_retry_of_the_same_flow_run_resumes_without_resubmitting(emulator: Emulator) -> None:
    emulator.add_fault(Fault(route="results", status=400))
    failed = _run(emulator)
    assert failed.is_failed()
    assert emulator.calls["create"] == 1

    flow_run_id = _flow_run_id(failed)
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(
            flow_run_id, State(type="SCHEDULED", name="AwaitingRetry"), force=True
        )
        flow_run = client.read_flow_run(flow_run_id)
    parameters = {
        "model": MODEL,
        "requests": CAPITALS,
        "credentials": AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url),
        "poll_interval": 0.05,
    }
    retried = run_flow(run_batch, flow_run=flow_run, parameters=parameters, return_type="state")
    assert isinstance(retried, State) and retried.is_completed()
    assert retried.result().texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert emulator.calls["create"] == 1
    assert emulator.batches_created == 1
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(flow_run_id).run_count == 2


def test_a_keyed_batch_s_artifacts_share_one_key_across_runs(emulator: Emulator) -> None:
    first = _run(emulator, idempotency_key="Nightly_2026-11-25")
    second = _run(emulator, idempotency_key="Nightly_2026-11-25")
    with get_client(sync_client=True) as prefect:
        keyed = prefect.read_artifacts(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[_flow_run_id(first), _flow_run_id(second)])
            )
        )
    # the flow's name and the key, lowercased, then 8 hex digits of the scope's sha256
    key = artifact_key("summary", "Nightly_2026-11-25", label="run-batch-Nightly_2026-11-25")
    assert key is not None and key.startswith("batchwork-summary-run-batch-nightly-2026-11-25-")
    summaries = [a for a in keyed if a.key == key]
    assert len(summaries) == 2  # one per run: the key's history in the UI


def test_a_keyed_batch_s_label_names_the_deployment_that_ran_it_else_the_flow() -> None:
    with get_client(sync_client=True) as prefect:
        flow_id = prefect.create_flow_from_name("nightly-capitals")
        deployment_id = prefect.create_deployment(flow_id, name="nightly")
        deployed = prefect.create_flow_run_from_deployment(deployment_id)
        adhoc = prefect.create_flow_run(run_batch)
    assert flow_or_deployment_name(deployed.id) == "nightly"
    assert flow_or_deployment_name(adhoc.id) == "run-batch"


def test_without_credentials_or_key_the_error_names_the_credentials_parameter(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    state = _run(emulator, credentials=None)
    assert state.is_failed()
    with pytest.raises(ConfigurationError) as caught:
        state.result()
    message = str(caught.value)
    assert "`credentials` parameter" in message
    assert "batchwork-prefect save-credentials anthropic" in message
    assert "ANTHROPIC_API_KEY" in message
    assert "api_key=" not in message


def test_a_run_batch_subflow_carries_its_parent_s_tags(
    emulator: Emulator, asserting_events_worker: EventsWorker, reset_worker_events: None
) -> None:
    from prefect import flow
    from prefect.client.schemas.filters import FlowRunFilterParentFlowRunId

    credentials = AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)

    renamed = run_batch.with_options(name="capitals-batch")  # still tagged, still run_batch

    @flow(name="tagged-pipeline")
    def pipeline() -> dict[str, str | None]:
        return renamed(
            model=MODEL, requests=CAPITALS, credentials=credentials, poll_interval=0.05
        ).texts()

    with get_client(sync_client=True) as prefect:
        parent = prefect.create_flow_run(pipeline, tags=["batchwork", "nightly"])
    state = run_flow(pipeline, flow_run=parent, return_type="state")
    assert state.result() == {"fr": "Paris", "jp": "Tokyo"}  # type: ignore[union-attr]
    with get_client(sync_client=True) as prefect:
        [child] = prefect.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent.id])
            )
        )
    assert {"batchwork", "nightly"} <= set(child.tags)
    assert load_batch_results(f"{parent.id}/call-1").texts() == {"fr": "Paris", "jp": "Tokyo"}
    asserting_events_worker.drain()
    client = asserting_events_worker._client
    assert isinstance(client, AssertingEventsClient)
    [ended] = [event for event in client.events if event.event == "batchwork.batch.ended"]
    related = {(r.id, r.role) for r in ended.related}
    assert (f"prefect.flow-run.{parent.id}", "root") in related
    assert ("prefect.tag.batchwork", "tag") in related
    # only the subflow run gets its parent's tags: its task runs keep the caller's (none here)
    child_tasks = [
        event
        for event in client.events
        if event.event.startswith("prefect.task-run.")
        and any(r.id == f"prefect.flow-run.{child.id}" for r in event.related)
    ]
    assert child_tasks
    task_tags = {tag for event in child_tasks for tag in event.payload["task_run"]["tags"]}
    assert "nightly" not in task_tags and "batchwork" not in task_tags


@pytest.mark.parametrize("by_name", [True, False])
def test_results_go_to_the_chosen_storage_block(
    emulator: Emulator, tmp_path: Path, by_name: bool
) -> None:
    from prefect.filesystems import LocalFileSystem

    block = LocalFileSystem(basepath=str(tmp_path / "shared"))
    block.save(f"batchwork-shared-{by_name}".lower(), overwrite=True)
    storage = f"local-file-system/batchwork-shared-{by_name}".lower() if by_name else block
    results = _run(emulator, idempotency_key="shared", result_storage=storage).result()
    assert (tmp_path / "shared" / "batchwork" / "shared" / "latest.json").exists()
    assert load_batch_results("shared", storage=storage) == results
    again = _run(emulator, idempotency_key="shared", result_storage=storage).result()
    assert again == results
    assert emulator.calls["create"] == 1


def test_results_that_fail_their_checks_are_kept_not_lost(
    emulator: Emulator, prefect_home: Path
) -> None:
    good = (
        b'{"custom_id":"fr","result":{"type":"succeeded","message":{"content":'
        b'[{"type":"text","text":"Paris"}],"usage":{"input_tokens":1,"output_tokens":1}}}}'
    )
    emulator.add_fault(Fault(route="results", status=200, body=good + b"\nnot json\n"))
    state = _run(emulator, idempotency_key="integrity")
    assert state.is_failed()
    partial = prefect_home / "storage" / "batchwork" / "integrity"
    [record_path] = partial.glob("*/part-0-*/results.partial.json")
    record = orjson.loads(record_path.read_bytes())
    assert [result["custom_id"] for result in record["results"]["results"]] == ["fr"]
    assert record["bad_lines_base64"] == ["bm90IGpzb24="]  # b"not json"
    assert any("no result: jp" in problem for problem in record["problems"])
