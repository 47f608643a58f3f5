"""`run_batch(model="openai/...")` end to end on a real Prefect server against the emulator:
the same results, artifacts and `batchwork.batch.ended` event as an Anthropic run."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.states import State

from batchwork_prefect import (
    AnthropicCredentials,
    BatchResults,
    BatchTimeoutError,
    OpenAICredentials,
    ResultStatus,
    load_batch_results,
    run_batch,
)
from batchwork_prefect.emulator import Emulator
from tests.support import API_KEY

MODEL = "openai/gpt-4o-mini"
MIXED = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "bad", "prompt": "x [[emulate:errored]]"},
    {"custom_id": "late", "prompt": "x [[emulate:expired]]"},
    {"custom_id": "stop", "prompt": "x [[emulate:canceled]]"},
]


def _run(emulator: Emulator, **options: Any) -> State[BatchResults]:
    parameters: dict[str, Any] = {
        "model": MODEL,
        "requests": MIXED,
        "credentials": OpenAICredentials(api_key=API_KEY, base_url=emulator.openai_base_url),
        "poll_interval": 0.05,
        **options,
    }
    state: State[BatchResults] = run_batch(**parameters, return_state=True)
    return state


def _flow_run_id(state: State[Any]) -> UUID:
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    return flow_run_id


def _shape(results: BatchResults) -> list[tuple[str, str, bool, bool, bool]]:
    """What every provider's results share: id, status, and which fields are set."""
    return sorted(
        (
            result.custom_id,
            result.status.value,
            result.text is not None,
            result.usage is not None,
            result.error is not None,
        )
        for result in results.values()
    )


def test_every_outcome_comes_back_in_the_shape_of_an_anthropic_run(emulator: Emulator) -> None:
    state = _run(emulator, idempotency_key="openai-mixed")
    results = state.result()
    assert isinstance(results, BatchResults)
    assert load_batch_results("openai-mixed") == results  # before indexing caches an index
    assert results.counts == {status: 1 for status in ResultStatus}
    assert results.texts()["fr"] == "Paris"
    assert results.batch_ids[0].startswith("batch_")
    anthropic = run_batch(
        model="anthropic/claude-opus-4-8",
        requests=MIXED,
        credentials=AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url),
        poll_interval=0.05,
    )
    assert _shape(results) == _shape(anthropic)

    again = _run(emulator, idempotency_key="openai-mixed").result()
    assert again == results
    assert emulator.calls["openai.batches.create"] == 1
    assert emulator.calls["openai.files.create"] == 1


def test_artifacts_and_the_batch_ended_event(
    emulator: Emulator, asserting_events_worker: EventsWorker, reset_worker_events: None
) -> None:
    state = _run(emulator)
    results = state.result()
    asserting_events_worker.drain()
    client = asserting_events_worker._client
    assert isinstance(client, AssertingEventsClient)
    [ended] = [event for event in client.events if event.event == "batchwork.batch.ended"]
    batch_id = results.batch_ids[0]
    assert ended.resource.id == f"batchwork.batch.{batch_id}"
    assert set(ended.payload) == {
        "batch_id",
        "provider",
        "model",
        "status",
        "request_counts",
        "digest",
        "part",
        "parts",
    }
    assert ended.payload["provider"] == "openai" and ended.payload["model"] == "gpt-4o-mini"
    assert ended.payload["status"] == "completed"
    counts = ended.payload["request_counts"]
    assert (counts["succeeded"], counts["errored"]) == (1, 1)
    assert counts["expired"] == 1 and counts["canceled"] == 1

    run_id = _flow_run_id(state)
    with get_client(sync_client=True) as prefect:
        artifacts = prefect.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    by_key = {artifact.key: artifact for artifact in artifacts}
    scope = f"{run_id}-call-1"
    summary = by_key[f"batchwork-summary-{scope}"]
    assert summary.type == "table" and batch_id in str(summary.data)
    preview = by_key[f"batchwork-preview-{scope}"]
    rows = orjson.loads(preview.data) if isinstance(preview.data, str) else preview.data
    assert {"custom_id": "fr", "status": "succeeded", "text or error": "Paris"} in rows
    assert {row["custom_id"]: row["status"] for row in rows} == {
        "fr": "succeeded",
        "bad": "errored",
        "late": "expired",
        "stop": "canceled",
    }
    progress = by_key[f"batchwork-progress-{scope}-part-0"]
    assert progress.type == "progress" and progress.data == 100.0


def test_timeout_cancels_the_provider_batch_and_fails_clearly() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        state = _run(emu, max_wait_seconds=0.2)
        assert state.is_failed()
        with pytest.raises(BatchTimeoutError, match="cancellation was requested"):
            state.result()
        assert emu.calls["openai.batches.cancel"] == 1
