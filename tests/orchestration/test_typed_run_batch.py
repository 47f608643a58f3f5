"""Typed batches through `run_batch`, for each provider, on a real Prefect server against the
emulator: `output=` a pydantic model or a JSON schema gives `parsed` answers; an off-schema
answer is retried into a parsed one; the parsed values are persisted and loaded back; the
preview artifact shows them as columns; a bad output fails before anything is sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import orjson
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.states import State
from pydantic import BaseModel

from batchwork_prefect import (
    BatchResults,
    ConfigurationError,
    InvalidBatchError,
    ResultStatus,
    load_batch_results,
    run_batch,
)
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.artifact_keys import artifact_key
from tests.orchestration.test_run_batch_providers import ANTHROPIC, PROVIDERS, Provider
from tests.support.docs import doc_page, first_block


class Capital(BaseModel):
    city: str
    kind: Literal["capital", "city"]


TYPED = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "off", "prompt": "x [[emulate:off_schema:x1]]"},  # off-schema once, then fits
    {"custom_id": "cut", "prompt": "x [[emulate:not_json]]"},  # never JSON
]


def _run(provider: Provider, emulator: Emulator, **options: Any) -> State[BatchResults]:
    parameters: dict[str, Any] = {
        "model": provider.model,
        "requests": TYPED,
        "credentials": provider.credentials(emulator),
        "poll_interval": 0.05,
        **options,
    }
    state: State[BatchResults] = run_batch(**parameters, return_state=True)
    return state


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_typed_batch_parses_retries_off_schema_answers_persists_and_loads(
    provider: Provider, emulator: Emulator, prefect_home: Path
) -> None:
    key = f"{provider.name}-typed"
    state = _run(provider, emulator, idempotency_key=key, output=Capital, max_attempts=2)
    assert state.is_completed()
    results = state.result()
    fr, off, cut = results["fr"], results["off"], results["cut"]
    assert isinstance(fr.parsed, Capital) and fr.parsed.kind in ("capital", "city")
    assert fr.text is not None and fr.parsed == Capital.model_validate_json(fr.text)
    # off-schema in round 1 (invalid_output is retryable), parsed in round 2
    assert (off.status, off.attempts, type(off.parsed)) == (ResultStatus.SUCCEEDED, 2, Capital)
    assert emulator.submissions("off", api=provider.name) == 2
    # never JSON: errored after both attempts, its raw answer and usage kept
    assert (cut.status, cut.attempts, cut.parsed) == (ResultStatus.ERRORED, 2, None)
    assert cut.error is not None and cut.error.type == "invalid_output"
    assert "Invalid JSON" in cut.error.message
    assert cut.text and cut.message is not None and cut.usage is not None
    assert cut.usage.output_tokens > 0

    loaded = load_batch_results(key)  # the persisted parsed values, as plain JSON
    assert loaded["fr"].parsed == fr.parsed.model_dump(mode="json")
    assert loaded["cut"].error == cut.error
    assert load_batch_results(key, output=Capital) == results  # instances again

    creates = emulator.calls[provider.create_route]
    again = _run(provider, emulator, idempotency_key=key, output=Capital, max_attempts=2)
    assert emulator.calls[provider.create_route] == creates  # a rerun pays nothing
    assert again.result() == results


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_json_schema_output_gives_parsed_dicts_and_the_preview_shows_their_fields(
    provider: Provider, emulator: Emulator, prefect_home: Path
) -> None:
    schema = Capital.model_json_schema()
    key = f"{provider.name}-typed-schema"
    state = _run(provider, emulator, idempotency_key=key, output=schema, max_attempts=1)
    results = state.result()
    assert isinstance(results["fr"].parsed, dict)
    assert set(results["fr"].parsed) == {"city", "kind"}
    assert results["off"].error is not None and results["off"].error.type == "invalid_output"
    with get_client(sync_client=True) as prefect:
        artifacts = prefect.read_artifacts(
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            )
        )
    [preview] = [
        one
        for one in artifacts
        if one.key == artifact_key("preview", key, label=f"run-batch-{key}")
    ]
    rows = orjson.loads(preview.data) if isinstance(preview.data, str) else preview.data
    fr = next(row for row in rows if row["custom_id"] == "fr")
    assert fr["city"] == results["fr"].parsed["city"] and fr["error"] == ""
    assert "text or error" not in fr


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (Capital(city="Paris", kind="capital"), "pass the class itself"),
        ({"type": "nonsense"}, "not a valid JSON schema"),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, "free-form object"),
    ],
)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_bad_output_fails_before_anything_is_sent(
    provider: Provider, emulator: Emulator, prefect_home: Path, output: Any, expected: str
) -> None:
    with pytest.raises(InvalidBatchError, match=expected):
        # refused as the run is called (a schema that is no schema), or when it is built
        # (one the provider cannot carry): either way before anything is sent
        _run(provider, emulator, output=output).result()
    assert emulator.calls[provider.create_route] == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_request_cannot_override_the_batch_s_output(
    provider: Provider, emulator: Emulator, prefect_home: Path
) -> None:
    own = (
        {"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}}
        if provider.name == "anthropic"
        else {"response_format": {"type": "json_object"}}
    )
    requests = [{"custom_id": "fr", "prompt": "Capital of France?", "params": own}]
    state = _run(provider, emulator, output=Capital, requests=requests)
    with pytest.raises(InvalidBatchError, match="neither a request nor defaults may set their own"):
        state.result()
    assert emulator.calls[provider.create_route] == 0


def test_release_mode_refuses_a_model_class_naming_the_schema_form(
    emulator: Emulator, prefect_home: Path
) -> None:
    state = _run(ANTHROPIC, emulator, output=Capital, wait="release")
    with pytest.raises(ConfigurationError, match=r"model_json_schema\(\)"):
        state.result()
    assert emulator.calls[ANTHROPIC.create_route] == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_refused_or_cut_answer_is_invalid_output_naming_why(
    provider: Provider, emulator: Emulator, prefect_home: Path
) -> None:
    requests = [
        {"custom_id": "no", "prompt": "x [[emulate:refusal]]"},
        {"custom_id": "cut", "prompt": "x [[emulate:max_tokens]]", "max_tokens": 8},
    ]
    state = _run(provider, emulator, output=Capital, requests=requests, max_attempts=1)
    results = state.result()
    refused, cut = results["no"], results["cut"]
    assert refused.error is not None and cut.error is not None
    assert (refused.error.type, refused.error.message) == (
        "invalid_output",
        "the model refused to answer",
    )
    assert cut.error.type == "invalid_output" and "raise max_tokens" in cut.error.message
    assert refused.message is not None and cut.text  # the raw answers are kept


def test_the_docs_typed_example_runs_as_written(emulator: Emulator, prefect_home: Path) -> None:
    page = doc_page("typed-results")  # the Typed results page, its first example
    assert page.startswith("# Typed results\n")
    code = first_block(page, "python")
    assert 'credentials="anthropic"' in code
    scope: dict[str, Any] = {"__name__": "docs", "CREDENTIALS": ANTHROPIC.credentials(emulator)}
    # compiled on its own: this module's `from __future__ import annotations` is not the page's
    runnable = code.replace('credentials="anthropic"', "credentials=CREDENTIALS")
    exec(compile(runnable, "docs/typed-results.md", "exec", dont_inherit=True), scope)
    # the comment's claim, as the page writes it
    claimed = code.split('results["fr"].parsed  # ', 1)[1].splitlines()[0]
    assert repr(scope["results"]["fr"].parsed) == claimed == "Capital(city='Paris', kind='capital')"
