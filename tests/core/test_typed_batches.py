"""Typed batches over real HTTP against the emulator, both wire formats: `batch(...,
output=)` gives validated answers in `.parsed` (collected or streamed), an answer off its type
is `errored` `invalid_output` keeping what was said, `retry_failed` sends it again, and the
parsed answers survive the persisted JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import orjson
import pytest
from pydantic import BaseModel, Field

from batchwork_prefect import (
    BatchJob,
    BatchResults,
    InvalidBatchError,
    ResultStatus,
    batch,
    get_batch,
)
from batchwork_prefect.core.build import build_parts
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.outputs import INVALID_OUTPUT, OutputType, typed_results
from batchwork_prefect.providers import get_provider
from tests.support import API_KEY


class Capital(BaseModel):
    city: str
    population: int = Field(ge=0)
    continent: Literal["Europe", "Asia", "America"] | None = None


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "founded": {"type": "integer", "minimum": 0},
        "rivers": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["city", "founded", "rivers"],
    "additionalProperties": False,
}

REQUESTS = [
    {"custom_id": "fr", "prompt": "Capital of France?"},
    {"custom_id": "jp", "prompt": "Capital of Japan?"},
    {"custom_id": "off", "prompt": "[[emulate:off_schema]] Capital of Peru?"},
    {"custom_id": "cut", "prompt": "[[emulate:not_json]] Capital of Chile?"},
]

Wire = Callable[[Emulator], tuple[str, str]]


def _anthropic(emu: Emulator) -> tuple[str, str]:
    return "anthropic/claude-x", emu.base_url


def _openai(emu: Emulator) -> tuple[str, str]:
    return "openai/gpt-4o-mini", emu.openai_base_url


WIRES = pytest.mark.parametrize("wire", [_anthropic, _openai], ids=["anthropic", "openai"])


def _typed_job(emu: Emulator, wire: Wire, output: Any, requests: Any = REQUESTS) -> BatchJob:
    model, base_url = wire(emu)
    job = batch(model, requests, output=output, api_key=API_KEY, base_url=base_url)
    job.wait(poll_interval=0.01)
    return job


@WIRES
def test_collect_gives_the_models_instances(emulator: Emulator, wire: Wire) -> None:
    with _typed_job(emulator, wire, Capital) as job:
        assert job.output == OutputType.of(Capital)
        results = job.collect()
    for custom_id, country in (("fr", "France"), ("jp", "Japan")):
        result = results[custom_id]
        assert result.status is ResultStatus.SUCCEEDED and result.error is None
        assert isinstance(result.parsed, Capital)
        assert result.parsed == Capital.model_validate_json(result.text or "")
        assert country in result.parsed.city  # each request's own answer


@WIRES
def test_a_dict_schema_gives_json_values(emulator: Emulator, wire: Wire) -> None:
    with _typed_job(emulator, wire, SCHEMA, REQUESTS[:2]) as job:
        results = job.collect()
    for result in results.values():
        assert type(result.parsed) is dict
        assert set(result.parsed) == {"city", "founded", "rivers"}
        assert isinstance(result.parsed["rivers"], list)


@WIRES
@pytest.mark.parametrize(
    ("custom_id", "reason"),
    [
        ("off", "does not fit Capital: Input should be an object"),
        ("cut", "does not fit Capital: Invalid JSON"),
    ],
)
def test_an_answer_off_its_type_is_invalid_output_keeping_what_was_said(
    emulator: Emulator, wire: Wire, custom_id: str, reason: str
) -> None:
    with _typed_job(emulator, wire, Capital) as job:
        results = job.collect()
    result = results[custom_id]
    assert result.status is ResultStatus.ERRORED and result.parsed is None
    assert result.error is not None and result.error.type == INVALID_OUTPUT
    assert result.error.message.startswith(reason)
    assert result.text  # what the model said, kept
    assert result.message is not None  # the provider's message too
    assert result.usage is not None and result.usage.output_tokens > 0  # and paid for
    if custom_id == "off":
        assert result.text.startswith("[{") and result.text.endswith("}]")
    assert results.counts[ResultStatus.SUCCEEDED] == 2
    assert results.counts[ResultStatus.ERRORED] == 2
    assert results.usage.output_tokens == sum(
        r.usage.output_tokens for r in results.values() if r.usage is not None
    )


@WIRES
def test_a_dict_schemas_off_schema_answer_names_the_problem(emulator: Emulator, wire: Wire) -> None:
    with _typed_job(emulator, wire, SCHEMA, REQUESTS[2:]) as job:
        results = job.collect()
    off, cut = results["off"].error, results["cut"].error
    assert off is not None and off.type == INVALID_OUTPUT
    assert off.message.startswith('does not match the schema: (root): [{"city"')
    assert off.message.endswith('is not of type "object"')
    assert cut is not None and cut.type == INVALID_OUTPUT and cut.message.startswith("not JSON")


@WIRES
def test_streamed_results_are_typed_too(emulator: Emulator, wire: Wire) -> None:
    with _typed_job(emulator, wire, Capital) as job:
        streamed = {result.custom_id: result for result in job.results()}
        collected = job.collect()
    assert streamed == {result.custom_id: result for result in collected.values()}
    assert isinstance(streamed["fr"].parsed, Capital)
    assert streamed["off"].error is not None and streamed["off"].error.type == INVALID_OUTPUT


@WIRES
def test_an_untyped_batch_has_no_parsed_answers(emulator: Emulator, wire: Wire) -> None:
    with _typed_job(emulator, wire, None) as job:
        assert job.output is None
        results = job.collect()
    assert all(result.parsed is None for result in results.values())
    # the markers only shape a structured reply: here they are prompt text, and succeed
    assert {result.status for result in results.values()} == {ResultStatus.SUCCEEDED}


@WIRES
def test_retry_failed_sends_an_invalid_answer_again_and_the_merge_is_parsed(
    emulator: Emulator, wire: Wire
) -> None:
    requests = [
        {"custom_id": "ok", "prompt": "Capital of France?"},
        {"custom_id": "once", "prompt": "[[emulate:off_schema:x1]] Capital of Japan?"},
    ]
    with _typed_job(emulator, wire, Capital, requests) as job:
        first = job.collect()
        assert first["once"].error is not None and first["once"].error.type == INVALID_OUTPUT
        retry = job.retry_failed(first)
        assert retry is not None and retry.request_counts.total == 1
        assert retry.output == job.output
        assert job._built is not None and retry._built is not None
        assert retry._built.parts[0].encoded == (job._built.parts[0].encoded[1],)
        retry.wait(poll_interval=0.01)
        merged = first.merge(retry.collect())
        assert job.retry_failed(merged) is None  # nothing left to send
    assert emulator.batches_created == 2
    assert merged["once"].status is ResultStatus.SUCCEEDED and merged["once"].attempts == 2
    assert isinstance(merged["once"].parsed, Capital)
    assert merged["ok"].attempts == 1 and isinstance(merged["ok"].parsed, Capital)
    # the replaced off-schema answer was billed: it stays in usage and cost
    billed = first["once"].usage
    assert billed is not None and billed.output_tokens > 0
    assert merged.replaced_usage == [billed]
    assert (
        merged.usage.output_tokens
        == sum(one.usage.output_tokens for one in merged.values() if one.usage is not None)
        + billed.output_tokens
    )
    if merged.cost is not None:  # priced where genai-prices knows the emulated model
        alone = BatchResults.model_construct(results=merged.results, model=merged.model)
        assert alone.cost is not None and merged.cost.total > alone.cost.total
    loaded = BatchResults.model_validate_json(merged.model_dump_json())
    assert loaded.replaced_usage == [billed] and loaded.usage == merged.usage


@WIRES
def test_parsed_answers_survive_the_persisted_json(emulator: Emulator, wire: Wire) -> None:
    with _typed_job(emulator, wire, Capital) as job:
        results = job.collect()
    loaded = BatchResults.model_validate_json(results.model_dump_json())
    # as plain JSON: what a model instance was written as
    assert loaded["fr"].parsed == results["fr"].parsed.model_dump(mode="json")
    assert loaded["off"].parsed is None and loaded["off"].error == results["off"].error
    assert loaded["off"].text == results["off"].text
    assert loaded["off"].usage == results["off"].usage
    again = typed_results(loaded, OutputType.of(Capital))
    assert again == results
    assert isinstance(again["fr"].parsed, Capital) and again["fr"].parsed == results["fr"].parsed
    assert again.batch_ids == results.batch_ids and again.model == results.model


@WIRES
def test_a_dict_schemas_answers_round_trip_as_they_are(emulator: Emulator, wire: Wire) -> None:
    with _typed_job(emulator, wire, SCHEMA, REQUESTS[:2]) as job:
        results = job.collect()
    loaded = BatchResults.model_validate_json(results.model_dump_json())
    assert loaded == results
    assert typed_results(loaded, OutputType.of(SCHEMA)) == results


@WIRES
def test_a_job_attached_with_output_types_the_answers(emulator: Emulator, wire: Wire) -> None:
    model, base_url = wire(emulator)
    with _typed_job(emulator, wire, Capital) as job:
        typed = job.collect()
        provider = get_provider(model.split("/")[0], api_key=API_KEY, base_url=base_url)
        with BatchJob.attach(provider, [job.id], output=Capital) as attached:
            assert attached.collect().results == typed.results
        untyped = get_batch(job.id, model.split("/")[0], api_key=API_KEY, base_url=base_url)
        with untyped:
            plain = untyped.collect()
    assert plain["fr"].parsed is None and plain["fr"].text == typed["fr"].text
    assert plain["off"].status is ResultStatus.SUCCEEDED  # nothing to validate against
    again = get_batch(
        job.id, model.split("/")[0], api_key=API_KEY, base_url=base_url, output=Capital
    )
    with again:
        assert again.collect().results == typed.results


def test_attaching_with_a_bad_output_type_fails_before_any_request(emulator: Emulator) -> None:
    provider = get_provider("anthropic", api_key=API_KEY, base_url=emulator.base_url)
    with pytest.raises(InvalidBatchError, match="pass the class itself, not an instance"):
        BatchJob.attach(provider, ["msgbatch_01abc"], output=Capital(city="P", population=1))
    provider.close()
    assert sum(emulator.calls.values()) == 0


@pytest.mark.parametrize(
    ("model", "strict"),
    [("openai/gpt-oss-20b", True), ("llama-3.3-70b-versatile", False)],
)
def test_the_groq_provider_asks_strict_output_where_groq_has_strict_mode(
    model: str, strict: bool
) -> None:
    # what batch("groq/...") builds with: the provider itself, not only its wire format
    provider = get_provider("groq", api_key=API_KEY)
    try:
        built = build_parts(provider, model, [{"prompt": "Capital of France?"}], output=Capital)
    finally:
        provider.close()
    [sent] = built.parts[0].encoded  # the input line uploaded to Groq's Files API
    assert orjson.loads(sent)["body"]["response_format"]["json_schema"]["strict"] is strict
