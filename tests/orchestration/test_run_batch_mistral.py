"""`run_batch` on Mistral's Batch API end to end, on a real Prefect server against the
emulator: results, a rerun with the same key paying nothing, the ended event, the cost at
Batch API prices, a timeout, a job whose day runs out; and its credentials block."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.states import State

from batchwork_prefect import (
    BatchResults,
    BatchTimeoutError,
    ConfigurationError,
    MistralCredentials,
    ResultStatus,
    load_batch_results,
    run_batch,
)
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.pricing import price_usages
from batchwork_prefect.usage import Usage
from tests.support import API_KEY

MODEL = "mistral/mistral-small-latest"
DAY = 86_400
REQUESTS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
    {"custom_id": "bad", "prompt": "x [[emulate:errored]]"},
]


def _run(emulator: Emulator, **options: Any) -> State[BatchResults]:
    parameters: dict[str, Any] = {
        "model": MODEL,
        "requests": REQUESTS,
        "credentials": MistralCredentials(
            api_key=API_KEY, base_url=emulator.base_url_for("mistral")
        ),
        "poll_interval": 0.05,
        "max_attempts": 1,
        **options,
    }
    state: State[BatchResults] = run_batch(**parameters, return_state=True)
    return state


def test_run_batch_on_mistral_and_a_rerun_pays_nothing(
    emulator: Emulator, asserting_events_worker: EventsWorker, reset_worker_events: None
) -> None:
    state = _run(emulator, idempotency_key="mistral-run")
    results = state.result()
    assert isinstance(results, BatchResults)
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo", "bad": None}
    assert results.counts[ResultStatus.ERRORED] == 1
    assert results["bad"].error is not None and results["bad"].error.status_code == 500
    assert results.model == MODEL and load_batch_results("mistral-run") == results
    cost = results.cost
    assert cost is not None and cost.results_priced == 2 and cost.total > 0
    asserting_events_worker.drain()
    client = asserting_events_worker._client
    assert isinstance(client, AssertingEventsClient)
    [ended] = [event for event in client.events if event.event == "batchwork.batch.ended"]
    assert (ended.payload["provider"], ended.payload["status"]) == ("mistral", "completed")
    assert ended.payload["batch_id"] == results.batch_ids[0]
    assert Decimal(ended.payload["cost"]["total"]) == cost.total

    calls = (
        emulator.calls["mistral.files.create"],
        emulator.calls["mistral.jobs.create"],
        emulator.calls["mistral.files.content"],
    )
    assert calls[:2] == (1, 1)
    again = _run(emulator, idempotency_key="mistral-run").result()
    assert again == results
    assert (
        emulator.calls["mistral.files.create"],
        emulator.calls["mistral.jobs.create"],
        emulator.calls["mistral.files.content"],
    ) == calls


def test_mistral_prices_are_batch_prices_half_the_standard_ones() -> None:
    import genai_prices

    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    batch_cost = price_usages(MODEL, [usage])
    standard = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1_000_000, output_tokens=1_000_000),
        model_ref="mistral-small-latest",
        provider_id="mistral",
    ).total_price
    assert not isinstance(batch_cost, str) and hasattr(batch_cost, "total")
    assert batch_cost.total * 2 == standard


def test_a_timeout_cancels_the_job_and_fails_clearly() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        state = _run(emu, max_wait_seconds=0.2)
        assert state.is_failed()
        with pytest.raises(BatchTimeoutError, match="cancellation was requested"):
            state.result()
        assert emu.calls["mistral.jobs.cancel"] == 1


def test_a_job_whose_day_runs_out_completes_with_every_request_expired() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=100 * DAY, time_scale=100_000) as emu:
        state = _run(emu, requests=REQUESTS[:2], idempotency_key="mistral-expiring")
        assert state.is_completed()
        results = state.result()
        assert results.counts[ResultStatus.EXPIRED] == 2
        assert all(r.text is None and r.error is None for r in results.values())
        assert emu.calls["mistral.jobs.create"] == 1


def test_the_block_takes_the_default_base_url_and_refuses_an_empty_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MISTRAL_BASE_URL", "https://elsewhere.example")
    client = MistralCredentials(api_key="key-for-the-test").get_client()
    assert client.endpoint == "https://api.mistral.ai"
    client.close()
    with pytest.raises(ConfigurationError, match="empty api_key"):
        MistralCredentials(api_key=" ").get_client()
