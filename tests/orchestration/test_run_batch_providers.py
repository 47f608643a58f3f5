"""`run_batch` end to end for each provider, on a real Prefect server against the emulator:
the same normalized results, artifacts, `batchwork.batch.ended` event, timeout and expiry
for Anthropic's inline requests and OpenAI's uploaded file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
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
    XAICredentials,
    load_batch_results,
    run_batch,
)
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.artifact_keys import artifact_key
from batchwork_prefect.pricing import plain
from tests.support import API_KEY
from tests.support.shapes import result_shape

DAY = 86_400
MIXED = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "bad", "prompt": "x [[emulate:errored]]"},
    {"custom_id": "late", "prompt": "x [[emulate:expired]]"},
    {"custom_id": "stop", "prompt": "x [[emulate:canceled]]"},
]
CAPITALS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]


@dataclass(frozen=True)
class Provider:
    """One provider as `run_batch` reaches it: model, credentials, the emulator's routes."""

    name: str
    model: str
    create_route: str
    cancel_route: str
    upload_route: str | None
    results_route: str

    def credentials(
        self, emulator: Emulator
    ) -> AnthropicCredentials | OpenAICredentials | XAICredentials:
        if self.name == "xai":
            return XAICredentials(api_key=API_KEY, base_url=emulator.base_url_for("xai"))
        if self.name == "openai":
            return OpenAICredentials(api_key=API_KEY, base_url=emulator.openai_base_url)
        return AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)

    def run(self, emulator: Emulator, **options: Any) -> State[BatchResults]:
        parameters: dict[str, Any] = {
            "model": self.model,
            "requests": MIXED,
            "credentials": self.credentials(emulator),
            "poll_interval": 0.05,
            "max_attempts": 1,  # one round: the retry rounds have their own tests
            **options,
        }
        state: State[BatchResults] = run_batch(**parameters, return_state=True)
        return state


ANTHROPIC = Provider("anthropic", "anthropic/claude-opus-4-8", "create", "cancel", None, "results")
OPENAI = Provider(
    "openai",
    "openai/gpt-4o-mini",
    "openai.batches.create",
    "openai.batches.cancel",
    "openai.files.create",
    "openai.files.content",
)
PROVIDERS = [pytest.param(ANTHROPIC, id="anthropic"), pytest.param(OPENAI, id="openai")]
XAI = Provider(
    "xai",
    "xai/grok-4-1-fast-reasoning",
    "xai.batches.create",
    "xai.batches.cancel",
    None,
    "xai.batches.results",
)
# xAI has no per-request expiry: its MIXED case is the one below, without "late"
WITH_XAI = [*PROVIDERS, pytest.param(XAI, id="xai")]


def _flow_run_id(state: State[Any]) -> UUID:
    flow_run_id = state.state_details.flow_run_id
    assert flow_run_id is not None
    return flow_run_id


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_outcome_comes_back_in_one_shape_and_a_rerun_pays_nothing(
    provider: Provider, emulator: Emulator
) -> None:
    key = f"{provider.name}-mixed"
    state = provider.run(emulator, idempotency_key=key)
    results = state.result()
    assert isinstance(results, BatchResults)
    assert load_batch_results(key) == results  # before indexing caches an index
    assert results.counts == {status: 1 for status in ResultStatus}
    assert results.texts()["fr"] == "Paris"
    errored = results["bad"].error
    assert errored is not None and errored.type and errored.message
    assert result_shape(results) == [
        ("bad", "errored", False, False, True),
        ("fr", "succeeded", True, True, False),
        ("late", "expired", False, False, False),
        ("stop", "canceled", False, False, False),
    ]

    downloads = emulator.calls[provider.results_route]
    assert downloads >= 1
    again = provider.run(emulator, idempotency_key=key).result()
    assert again == results
    assert again.model == provider.model and again.cost == results.cost is not None
    assert emulator.calls[provider.results_route] == downloads
    assert emulator.calls[provider.create_route] == 1
    if provider.upload_route:
        assert emulator.calls[provider.upload_route] == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_artifacts_and_the_batch_ended_event(
    provider: Provider,
    emulator: Emulator,
    asserting_events_worker: EventsWorker,
    reset_worker_events: None,
) -> None:
    state = provider.run(emulator)
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
        "attempt",
        "cost",
        "unpriced_reason",
    }
    assert ended.payload["batch_id"] == batch_id
    assert (ended.payload["part"], ended.payload["parts"], ended.payload["attempt"]) == (0, 1, 1)
    assert ended.payload["provider"] == provider.name
    assert ended.payload["model"] == provider.model.split("/", 1)[1]
    assert ended.payload["status"] == "completed"  # the normalized status, for both
    assert ended.payload["request_counts"] == {
        "total": 4,
        "processing": 0,
        "succeeded": 1,
        "errored": 1,
        "canceled": 1,
        "expired": 1,
    }
    # both models have Batch API prices: the part's cost, dollar amounts as decimal strings
    cost = results.cost
    assert results.model == provider.model and cost is not None and cost.results_priced == 1
    assert ended.payload["cost"] == cost.model_dump(mode="json")
    assert Decimal(ended.payload["cost"]["total"]) == cost.total > 0
    assert ended.payload["unpriced_reason"] is None

    run_id = _flow_run_id(state)
    with get_client(sync_client=True) as prefect:
        artifacts = prefect.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    by_key = {artifact.key: artifact for artifact in artifacts}
    scope = f"{run_id}/call-1"  # a keyless batch's scope: the run and its call site
    with get_client(sync_client=True) as prefect:
        label = f"{prefect.read_flow_run(run_id).name}-call-1"  # e.g. crimson-otter-call-1
    assert str(run_id) not in "".join(by_key)  # keys name the run, not its id
    summary = by_key[artifact_key("summary", scope, label=label)]
    assert summary.type == "table" and batch_id in str(summary.data)
    table = orjson.loads(summary.data) if isinstance(summary.data, str) else summary.data
    assert {"field": "cost", "value": cost.describe()} in table
    assert cost.describe().startswith(f"${plain(cost.total)} for 1 results at Batch API prices")
    # the glossary's words: the batch (its scope and digest), each part's provider batch
    fields = {row["field"]: row["value"] for row in table}
    assert fields["model"] == provider.model
    assert fields["batch scope"] == scope and len(fields["batch digest"]) == 64
    assert fields["part 1/1, round 1"] == f"provider batch {batch_id}"
    assert re.fullmatch(r"\d+m \d\ds \(\S+ \S+ to \S+ \S+ UTC\)", fields["wait"])
    assert (fields["succeeded"], fields["errored"], fields["expired"]) == (1, 1, 1)
    stored = Path(fields["results stored at"])
    assert stored.parts[-4:] == ("batchwork", str(run_id), "call-1", "latest.json")
    assert stored.is_file()
    assert fields["load them with"] == f'load_batch_results("{scope}")'
    assert load_batch_results(scope) == results
    preview = by_key[artifact_key("preview", scope, label=label)]
    rows = orjson.loads(preview.data) if isinstance(preview.data, str) else preview.data
    assert {
        "custom_id": "fr",
        "status": "succeeded",
        "prompt": "Capital of France? One word.",
        "text or error": "Paris",
    } in rows
    assert [row["custom_id"] for row in rows] == ["fr", "bad", "late", "stop"]  # as sent
    assert {row["custom_id"]: row["status"] for row in rows} == {
        "fr": "succeeded",
        "bad": "errored",
        "late": "expired",
        "stop": "canceled",
    }
    progress = by_key[artifact_key("progress", scope, 0, label=label)]
    assert progress.type == "progress" and progress.data == 100.0


@pytest.mark.parametrize("provider", WITH_XAI)
def test_timeout_cancels_the_provider_batch_and_fails_clearly(provider: Provider) -> None:
    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        state = provider.run(emu, max_wait_seconds=0.2)
        assert state.is_failed()
        with pytest.raises(BatchTimeoutError, match="cancellation was requested"):
            state.result()
        assert emu.calls[provider.cancel_route] == 1


@pytest.mark.parametrize("provider", WITH_XAI)
def test_a_batch_whose_day_runs_out_completes_with_every_request_expired(
    provider: Provider, asserting_events_worker: EventsWorker, reset_worker_events: None
) -> None:
    # No request is done before the window closes (the emulator spreads their ends over
    # 100 days); the emulated clock runs a day in about 0.9 s.
    with Emulator(api_key=API_KEY, processing_seconds=100 * DAY, time_scale=100_000) as emu:
        state = provider.run(emu, requests=CAPITALS, idempotency_key=f"{provider.name}-expiring")
        assert state.is_completed()
        results = state.result()
        assert sorted(r.custom_id for r in results.values()) == ["fr", "jp"]
        assert results.counts[ResultStatus.EXPIRED] == 2
        assert all(r.text is None and r.error is None for r in results.values())
        assert load_batch_results(f"{provider.name}-expiring") == results
        asserting_events_worker.drain()
        client = asserting_events_worker._client
        assert isinstance(client, AssertingEventsClient)
        [ended] = [e for e in client.events if e.event == "batchwork.batch.ended"]
        assert ended.payload["status"] == "expired"
        assert ended.payload["request_counts"]["expired"] == 2
        assert emu.calls[provider.create_route] == 1


def test_xai_every_outcome_it_has_in_one_shape_and_a_rerun_pays_nothing(
    emulator: Emulator,
) -> None:
    key = "xai-mixed"
    requests = [request for request in MIXED if request["custom_id"] != "late"]
    state = XAI.run(emulator, requests=requests, idempotency_key=key)
    results = state.result()
    assert isinstance(results, BatchResults)
    assert load_batch_results(key) == results
    assert result_shape(results) == [
        ("bad", "errored", False, False, True),
        ("fr", "succeeded", True, True, False),
        ("stop", "canceled", False, False, False),
    ]
    assert results.texts()["fr"] == "Paris"
    # genai-prices has no xAI Batch API prices: unpriced, saying why
    assert results.cost is None
    assert results.unpriced_reason is not None
    assert "has no Batch API price for 'xai/grok-4-1-fast-reasoning'" in results.unpriced_reason
    adds = emulator.calls["xai.batches.add"]
    downloads = emulator.calls["xai.batches.results"]
    again = XAI.run(emulator, requests=requests, idempotency_key=key).result()
    assert again == results
    assert emulator.calls["xai.batches.create"] == 1
    assert (emulator.calls["xai.batches.add"], adds) == (1, 1)
    assert emulator.calls["xai.batches.results"] == downloads
