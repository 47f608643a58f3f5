"""An OpenAI part's create through the `run_batch` flow: a lost create answer is found by the
digest the batch records, and a create that failed without making a batch (an upload that
failed, a batch create answered with an error, a create that never reached the provider) is
recorded as not created, so a rerun creates it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from prefect.filesystems import LocalFileSystem
from prefect.states import State

from batchwork_prefect import (
    BatchResults,
    ConfigurationError,
    OpenAICredentials,
    ProviderError,
    TransportError,
    batch,
    run_batch,
)
from batchwork_prefect.core import build_parts
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.orchestration.intents import IntentState, read_intent
from batchwork_prefect.orchestration.persistence import intent_key, part_ref
from batchwork_prefect.orchestration.submission import PartSubmission
from batchwork_prefect.providers.anthropic import AnthropicProvider
from batchwork_prefect.providers.openai import OpenAIProvider
from harness.ports import free_port
from tests.support import API_KEY

MODEL = "openai/gpt-4o-mini"
CAPITALS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]


def _run(emulator: Emulator, key: str, **options: Any) -> State[BatchResults]:
    state: State[BatchResults] = run_batch(
        model=MODEL,
        requests=CAPITALS,
        credentials=OpenAICredentials(api_key=API_KEY, base_url=emulator.openai_base_url),
        idempotency_key=key,
        poll_interval=0.05,
        return_state=True,
        **options,
    )
    return state


def _intent(prefect_home: Path, key: str) -> dict[str, Any]:
    [path] = (prefect_home / "storage" / "batchwork" / key).glob("*/*/intent.json")
    intent: dict[str, Any] = orjson.loads(path.read_bytes())
    return intent


def test_a_lost_create_answer_is_adopted_by_its_digest(
    emulator: Emulator, prefect_home: Path
) -> None:
    # a batch of the same size made just before: size and time alone could not choose
    neighbour = [{"custom_id": c["custom_id"], "prompt": c["prompt"] + "!"} for c in CAPITALS]
    with batch(MODEL, neighbour, api_key=API_KEY, base_url=emulator.openai_base_url) as other:
        other_id = other.id
    emulator.add_fault(Fault(route="openai.batches.create", status=500, after_create=True))
    state = _run(emulator, "openai-lost-answer")
    results = state.result()
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert results.batch_ids != [other_id]
    assert emulator.calls["openai.batches.create"] == 2  # the neighbour's, and ours once
    intent = _intent(prefect_home, "openai-lost-answer")
    assert intent["state"] == "created" and intent["note"] == "adopted from list"
    assert intent["batch_id"] == results.batch_ids[0]


def test_a_cut_create_answer_is_adopted_by_its_digest(
    emulator: Emulator, prefect_home: Path
) -> None:
    emulator.add_fault(
        Fault(route="openai.batches.create", truncate_after_bytes=5, after_create=True)
    )
    results = _run(emulator, "openai-cut-answer").result()
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert emulator.calls["openai.batches.create"] == 1
    assert _intent(prefect_home, "openai-cut-answer")["batch_id"] == results.batch_ids[0]


def test_an_upload_that_failed_after_retries_made_no_batch_and_a_rerun_creates(
    emulator: Emulator, prefect_home: Path
) -> None:
    emulator.add_fault(Fault(route="openai.files.create", status=503, times=5, retry_after_ms=1))
    failed = _run(emulator, "openai-upload-failed")
    assert failed.is_failed()
    try:
        failed.result()
    except ProviderError as exc:
        assert exc.status_code == 503 and exc.url.endswith("/files")
    else:
        raise AssertionError("the failed upload did not fail the run")
    assert emulator.calls["openai.files.create"] == 5
    assert emulator.calls["openai.batches.create"] == 0
    assert _intent(prefect_home, "openai-upload-failed")["state"] == "not_created"

    again = _run(emulator, "openai-upload-failed")
    assert again.result().texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert emulator.calls["openai.batches.create"] == 1
    assert _intent(prefect_home, "openai-upload-failed")["state"] == "created"


def test_a_batch_create_that_failed_without_a_batch_is_not_created(
    emulator: Emulator, prefect_home: Path
) -> None:
    emulator.add_fault(Fault(route="openai.batches.create", status=500))  # nothing stored
    failed = _run(emulator, "openai-create-failed")
    assert failed.is_failed()
    assert _intent(prefect_home, "openai-create-failed")["state"] == "not_created"
    again = _run(emulator, "openai-create-failed")
    assert again.result().texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert emulator.calls["openai.batches.create"] == 2


@pytest.mark.parametrize("provider_type", [AnthropicProvider, OpenAIProvider])
def test_a_create_that_never_reached_the_provider_is_not_created(
    tmp_path: Path, provider_type: type[AnthropicProvider] | type[OpenAIProvider]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens: the connection is refused
    provider = provider_type(
        api_key=API_KEY,
        base_url=closed + ("/v1" if provider_type is OpenAIProvider else ""),
        max_retries=0,
    )
    built = build_parts(provider, "m", CAPITALS)
    storage = LocalFileSystem(basepath=str(tmp_path))
    with pytest.raises(TransportError):
        PartSubmission(provider, built, 0, scope="unreached", storage=storage).run()
    intent = read_intent(storage, intent_key("unreached", part_ref(built, 0)))
    assert intent is not None and intent.state is IntentState.NOT_CREATED


def test_run_batch_refuses_a_groq_model_naming_the_known_blocks(emulator: Emulator) -> None:
    state = run_batch(
        model="groq/llama-3.1-8b-instant",
        requests=CAPITALS,
        credentials=OpenAICredentials(api_key=API_KEY, base_url=emulator.openai_base_url),
        return_state=True,
    )
    with pytest.raises(ConfigurationError, match="no credentials block for provider 'groq'"):
        state.result()
    assert emulator.requests_received == []
