"""Batches split into parts, and submits whose answer was lost, through the `run_batch` flow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from batchwork_prefect import AnthropicCredentials, BatchResults, batch, run_batch
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.errors import UnreconciledSubmissionError
from batchwork_prefect.orchestration.intents import resolve_submission
from batchwork_prefect.orchestration.loading import load_batch_results
from tests.support import API_KEY

MODEL = "anthropic/claude-opus-4-8"
PROMPTS = [{"custom_id": f"q{index:03d}", "prompt": f"Question {index}"} for index in range(250)]
CAPITALS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]


def _credentials(emulator: Emulator) -> AnthropicCredentials:
    return AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)


def _run(emulator: Emulator, requests: list[dict[str, str]], **options: Any) -> Any:
    return run_batch(
        model=MODEL,
        requests=requests,
        credentials=_credentials(emulator),
        poll_interval=0.05,
        return_state=True,
        **options,
    )


def _expected_texts() -> dict[str, str]:
    return {p["custom_id"]: f"Emulated reply to: {p['prompt']}" for p in PROMPTS}


def test_a_batch_past_the_limit_runs_as_parts_and_merges(
    emulator: Emulator, prefect_home: Path
) -> None:
    state = _run(emulator, PROMPTS, max_requests_per_batch=100, idempotency_key="parts")
    results = state.result()
    assert isinstance(results, BatchResults)
    assert emulator.batches_created == 3
    assert len(results.batch_ids) == 3
    assert results.texts() == _expected_texts()
    pointer = orjson.loads(
        (prefect_home / "storage" / "batchwork" / "parts" / "latest.json").read_bytes()
    )
    assert [key.split("/")[-2][:6] for key in pointer["results"]] == [
        "part-0",
        "part-1",
        "part-2",
    ]
    assert load_batch_results("parts") == results

    again = _run(emulator, PROMPTS, max_requests_per_batch=100, idempotency_key="parts")
    assert again.result() == results
    assert emulator.calls["create"] == 3
    assert emulator.calls["results"] == 3


def test_a_failed_part_is_redone_alone(emulator: Emulator) -> None:
    emulator.add_fault(Fault(route="create", status=400))
    first = _run(emulator, PROMPTS, max_requests_per_batch=100, idempotency_key="redo")
    assert first.is_failed()
    assert emulator.batches_created == 2

    second = _run(emulator, PROMPTS, max_requests_per_batch=100, idempotency_key="redo")
    assert second.result().texts() == _expected_texts()
    assert emulator.batches_created == 3
    assert emulator.calls["create"] == 4


def test_a_part_that_cannot_be_submitted_fails_the_run_at_once_and_spares_the_others() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=3600, time_scale=0) as emu:
        emu.add_fault(Fault(route="create", status=400))
        prompts = PROMPTS[:150]  # two parts of 100 and 50; one create is refused
        failed = _run(emu, prompts, max_requests_per_batch=100, idempotency_key="spare")
        assert failed.is_failed()  # returned although the other part's batch never ends
        assert emu.batches_created == 1
        assert emu.calls["cancel"] == 0  # left running, for the rerun to resume

        emu.advance(3600)  # the surviving batch ends; the part created on the rerun at once
        emu.settings.processing_seconds = 0
        again = _run(emu, prompts, max_requests_per_batch=100, idempotency_key="spare")
        assert len(again.result()) == 150
        assert emu.batches_created == 2


def test_a_lost_create_answer_is_adopted_from_the_list(
    emulator: Emulator, prefect_home: Path
) -> None:
    emulator.add_fault(Fault(route="create", status=500, after_create=True))
    state = _run(emulator, CAPITALS, idempotency_key="lost-answer")
    assert state.result().texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert emulator.calls["create"] == 1
    assert emulator.batches_created == 1
    [intent_path] = (prefect_home / "storage" / "batchwork" / "lost-answer").glob("*/*/intent.json")
    intent = orjson.loads(intent_path.read_bytes())
    assert intent["state"] == "created"
    assert intent["note"] == "adopted from list"
    assert intent["request_count"] == 2


def test_two_candidates_fail_closed_until_settled(emulator: Emulator) -> None:
    with batch(
        MODEL, CAPITALS, {"max_tokens": 8}, api_key=API_KEY, base_url=emulator.base_url
    ) as other:
        other_id = other.id
    emulator.add_fault(Fault(route="create", status=500, after_create=True))
    failed = _run(emulator, CAPITALS, idempotency_key="ambiguous")
    with pytest.raises(UnreconciledSubmissionError) as caught:
        failed.result()
    error = caught.value
    assert len(error.candidates) == 2 and other_id in error.candidates
    assert error.intent_key in str(error) and "resolve-submission" in str(error)
    assert emulator.batches_created == 2

    [ours] = [candidate for candidate in error.candidates if candidate != other_id]
    resolve_submission(error.intent_key, adopt=ours, credentials=_credentials(emulator))
    settled = _run(emulator, CAPITALS, idempotency_key="ambiguous")
    assert settled.result().batch_ids == [ours]
    assert emulator.batches_created == 2
    assert emulator.calls["create"] == 2


def test_no_candidate_fails_closed_until_resubmit_is_allowed(emulator: Emulator) -> None:
    emulator.add_fault(Fault(route="create", status=500))
    failed = _run(emulator, CAPITALS, idempotency_key="nothing-made")
    with pytest.raises(UnreconciledSubmissionError, match="none matches") as caught:
        failed.result()
    assert emulator.batches_created == 0

    retried = _run(emulator, CAPITALS, idempotency_key="nothing-made")
    assert retried.is_failed()
    assert emulator.calls["create"] == 1  # still no blind resubmit

    resolve_submission(caught.value.intent_key, resubmit=True)
    settled = _run(emulator, CAPITALS, idempotency_key="nothing-made")
    assert settled.result().texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert emulator.batches_created == 1


def test_settling_needs_exactly_one_choice_and_an_open_intent(emulator: Emulator) -> None:
    from batchwork_prefect.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="exactly one"):
        resolve_submission("batchwork/x/intent.json")
    with pytest.raises(ConfigurationError, match="no submit intent"):
        resolve_submission("batchwork/x/intent.json", resubmit=True)
