"""`run_batch(model="together/...")` end to end on a real Prefect server against the emulator:
results, a rerun that pays nothing, the batch-ended event with its cost, a timeout's cancel
and a batch whose day runs out."""

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
    ResultStatus,
    TogetherCredentials,
    load_batch_results,
    run_batch,
)
from batchwork_prefect.emulator import Emulator
from tests.support import API_KEY

DAY = 86_400
MODEL = "together/meta-llama/Llama-3.3-70B-Instruct-Turbo"
REQUESTS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
    {"custom_id": "bad", "prompt": "x [[emulate:errored]]"},
]


def _run(emulator: Emulator, **options: Any) -> State[BatchResults]:
    parameters: dict[str, Any] = {
        "model": MODEL,
        "requests": REQUESTS,
        "credentials": TogetherCredentials(
            api_key=API_KEY, base_url=emulator.base_url_for("together")
        ),
        "poll_interval": 0.05,
        "max_attempts": 1,
        **options,
    }
    state: State[BatchResults] = run_batch(**parameters, return_state=True)
    return state


def test_together_results_the_event_and_a_rerun_that_pays_nothing(
    emulator: Emulator, asserting_events_worker: EventsWorker, reset_worker_events: None
) -> None:
    state = _run(emulator, idempotency_key="together-run")
    results = state.result()
    assert isinstance(results, BatchResults)
    assert results.texts()["fr"] == "Paris" and results.texts()["jp"] == "Tokyo"
    assert results.counts[ResultStatus.SUCCEEDED] == 2
    assert results.counts[ResultStatus.ERRORED] == 1
    assert results["bad"].error is not None and results["bad"].error.message
    assert load_batch_results("together-run") == results
    cost = results.cost
    assert results.model == MODEL and cost is not None and cost.results_priced == 2
    assert "50% batch discount" in cost.priced_by

    asserting_events_worker.drain()
    client = asserting_events_worker._client
    assert isinstance(client, AssertingEventsClient)
    [ended] = [event for event in client.events if event.event == "batchwork.batch.ended"]
    assert ended.payload["provider"] == "together"
    assert ended.payload["status"] == "completed"
    # the counts the results settled, not the provisional all-succeeded ones
    assert ended.payload["request_counts"] == {
        "total": 3,
        "processing": 0,
        "succeeded": 2,
        "errored": 1,
        "canceled": 0,
        "expired": 0,
    }
    assert Decimal(ended.payload["cost"]["total"]) == cost.total > 0

    downloads = emulator.calls["together.files.content"]
    again = _run(emulator, idempotency_key="together-run").result()
    assert again == results
    assert emulator.calls["together.files.content"] == downloads
    assert emulator.calls["together.batches.create"] == 1
    assert emulator.calls["together.files.upload"] == 1


def test_together_timeout_cancels_the_batch_and_fails_clearly() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        state = _run(emu, max_wait_seconds=0.2)
        assert state.is_failed()
        with pytest.raises(BatchTimeoutError, match="cancellation was requested"):
            state.result()
        assert emu.calls["together.batches.cancel"] == 1


def test_a_together_batch_whose_day_runs_out_has_every_request_expired() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=100 * DAY, time_scale=100_000) as emu:
        state = _run(emu, requests=REQUESTS[:2], idempotency_key="together-expiring")
        assert state.is_completed()
        results = state.result()
        assert results.counts[ResultStatus.EXPIRED] == 2
        assert all(r.text is None and r.error is None for r in results.values())
        assert emu.calls["together.batches.create"] == 1
