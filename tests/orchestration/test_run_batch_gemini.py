"""`run_batch(model="gemini/...")` end to end on a real Prefect server against the emulator's
Gemini API: results, a rerun that pays nothing, cost at Batch API prices, timeout, expiry."""

from __future__ import annotations

from typing import Any

from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.states import State

from batchwork_prefect import (
    BatchResults,
    GeminiCredentials,
    ResultStatus,
    load_batch_results,
    run_batch,
)
from batchwork_prefect.emulator import Emulator
from tests.support import API_KEY

MODEL = "gemini/gemini-2.5-flash"
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
        "credentials": GeminiCredentials(api_key=API_KEY, base_url=emulator.base_url_for("gemini")),
        "poll_interval": 0.05,
        "max_attempts": 1,
        **options,
    }
    state: State[BatchResults] = run_batch(**parameters, return_state=True)
    return state


def test_run_batch_on_gemini_and_a_rerun_pays_nothing(emulator: Emulator) -> None:
    state = _run(emulator, idempotency_key="gemini-capitals")
    results = state.result()
    assert isinstance(results, BatchResults)
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo", "bad": None}
    assert results.counts[ResultStatus.SUCCEEDED] == 2
    assert results.counts[ResultStatus.ERRORED] == 1
    bad = results["bad"].error
    assert bad is not None and bad.type == "INTERNAL"
    assert all(batch_id.startswith("batches/") for batch_id in results.batch_ids)
    # gemini-2.5-flash has Batch API prices in genai-prices (through its "google" id)
    assert results.model == MODEL
    assert results.cost is not None and results.cost.results_priced == 2
    assert results.cost.total > 0
    assert load_batch_results("gemini-capitals") == results
    creates, reads = emulator.calls["gemini.batches.create"], emulator.calls["gemini.batches.get"]
    assert creates == 1
    again = _run(emulator, idempotency_key="gemini-capitals").result()
    assert again == results
    assert emulator.calls["gemini.batches.create"] == 1  # the rerun created nothing
    assert emulator.calls["gemini.batches.get"] == reads  # nor read the batch again


def test_timeout_cancels_the_gemini_batch() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        state = _run(emu, max_wait_seconds=0.2)
        assert state.is_failed()
        assert emu.calls["gemini.batches.cancel"] == 1


def test_a_gemini_batch_whose_day_runs_out_completes_with_every_request_expired(
    asserting_events_worker: EventsWorker, reset_worker_events: None
) -> None:
    with Emulator(api_key=API_KEY, processing_seconds=100 * DAY, time_scale=100_000) as emu:
        state = _run(emu, requests=REQUESTS[:2], idempotency_key="gemini-expiring")
        assert state.is_completed()
        results = state.result()
        assert results.counts[ResultStatus.EXPIRED] == 2
        assert all(r.text is None and r.error is None for r in results.values())
        asserting_events_worker.drain()
        client = asserting_events_worker._client
        assert isinstance(client, AssertingEventsClient)
        [ended] = [e for e in client.events if e.event == "batchwork.batch.ended"]
        assert ended.payload["provider"] == "gemini"
        assert ended.payload["status"] == "expired"
        assert ended.payload["request_counts"]["expired"] == 2
        assert emu.calls["gemini.batches.create"] == 1
