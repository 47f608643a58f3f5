"""Why an answer ended, read from hand-written results lines (the emulator does not send
these): a refusal or a max_tokens cut is `invalid_output` in a typed batch, even when its text
happens to parse, and is an ordinary answer in an untyped one."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from batchwork_prefect import BatchResult, ResultStatus
from batchwork_prefect.outputs import INVALID_OUTPUT, OutputType, typed
from batchwork_prefect.providers import anthropic
from batchwork_prefect.providers.openai.results import parse_result_line as openai_line


class Capital(BaseModel):
    city: str


WHOLE = '{"city": "Paris"}'
CUT = '{"city": "Pa'


def _anthropic_line(text: str, stop_reason: str | None, null_counts: bool = False) -> bytes:
    usage: dict[str, Any] = {"input_tokens": 9, "output_tokens": 4}
    if null_counts:  # the lenient path: counts the API sends as null
        usage["cache_read_input_tokens"] = None
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": text}] if text else [],
        "stop_reason": stop_reason,
        "usage": usage,
    }
    return orjson.dumps({"custom_id": "fr", "result": {"type": "succeeded", "message": message}})


def _openai_line(content: str | None, finish_reason: str | None, refusal: str | None) -> bytes:
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": content, "refusal": refusal},
        "finish_reason": finish_reason,
    }
    body = {"choices": [choice], "usage": {"prompt_tokens": 9, "completion_tokens": 4}}
    response = {"status_code": 200, "request_id": "req_1", "body": body}
    return orjson.dumps({"custom_id": "fr", "response": response, "error": None})


def _read(line: bytes, provider: str) -> BatchResult:
    parse = anthropic.parse_result_line if provider == "anthropic" else openai_line
    result = parse(line, "batch_1")
    assert result is not None
    assert result.status is ResultStatus.SUCCEEDED  # as read: the provider's word
    return result


CASES = [
    ("anthropic", _anthropic_line(WHOLE, "max_tokens"), "max_tokens"),
    ("anthropic", _anthropic_line(CUT, "max_tokens"), "max_tokens"),
    ("anthropic", _anthropic_line(CUT, "max_tokens", null_counts=True), "max_tokens"),
    ("anthropic", _anthropic_line("", "refusal"), "refusal"),
    ("anthropic", _anthropic_line(WHOLE, "refusal"), "refusal"),
    ("anthropic", _anthropic_line(WHOLE, "refusal", null_counts=True), "refusal"),
    ("openai", _openai_line(CUT, "length", None), "max_tokens"),
    ("openai", _openai_line(WHOLE, "length", None), "max_tokens"),
    ("openai", _openai_line(None, "stop", "I can't help with that."), "refusal"),
    ("openai", _openai_line(WHOLE, "stop", "I can't help with that."), "refusal"),
    ("openai", _openai_line(None, "content_filter", None), "refusal"),
]
REASONS = {
    "max_tokens": "the answer was cut by max_tokens before it ended; raise max_tokens",
    "refusal": "the model refused to answer",
}


@pytest.mark.parametrize(
    ("provider", "line", "stop"),
    CASES,
    ids=[
        "anthropic cut whole",
        "anthropic cut",
        "anthropic cut lenient",
        "anthropic refused",
        "anthropic refused with json",
        "anthropic refused lenient",
        "openai length",
        "openai length whole",
        "openai refusal",
        "openai refusal with json",
        "openai content filter",
    ],
)
def test_a_cut_or_refused_answer_is_invalid_output_in_a_typed_batch(
    provider: str, line: bytes, stop: str
) -> None:
    read = _read(line, provider)
    for output in (OutputType.of(Capital), OutputType.of(Capital.model_json_schema())):
        assert output is not None
        result = typed(read, output)
        assert result.status is ResultStatus.ERRORED and result.parsed is None
        assert result.error is not None and result.error.type == INVALID_OUTPUT
        assert result.error.message == REASONS[stop]
        assert result.usage is not None and result.usage.output_tokens == 4
        assert result.message == read.message and result.text == read.text
        assert result.batch_id == "batch_1"
    # an untyped batch keeps the answer as the provider gave it
    assert read.status is ResultStatus.SUCCEEDED and read.error is None


@pytest.mark.parametrize(
    ("provider", "line"),
    [
        ("anthropic", _anthropic_line(WHOLE, "end_turn")),
        ("anthropic", _anthropic_line(WHOLE, "stop_sequence")),
        ("anthropic", _anthropic_line(WHOLE, None)),
        ("anthropic", _anthropic_line(WHOLE, "end_turn", null_counts=True)),
        ("openai", _openai_line(WHOLE, "stop", None)),
        ("openai", _openai_line(WHOLE, None, None)),
    ],
)
def test_a_whole_answer_is_parsed(provider: str, line: bytes) -> None:
    output = OutputType.of(Capital)
    assert output is not None
    result = typed(_read(line, provider), output)
    assert result.status is ResultStatus.SUCCEEDED and result.parsed == Capital(city="Paris")


def test_the_stop_reason_is_not_persisted_but_what_it_meant_is() -> None:
    output = OutputType.of(Capital)
    assert output is not None
    cut = typed(_read(_anthropic_line(WHOLE, "max_tokens"), "anthropic"), output)
    loaded = BatchResult.model_validate_json(cut.model_dump_json())
    assert loaded == cut and loaded.error is not None and loaded.error.type == INVALID_OUTPUT
    assert typed(loaded, output) is loaded  # errored: left as it is


def test_an_answer_cut_by_the_context_window_is_an_error_never_sent_again() -> None:
    from batchwork_prefect.core.retries import retry_reason
    from batchwork_prefect.outputs import CONTEXT_WINDOW_EXCEEDED

    result = typed(
        _read(_anthropic_line(WHOLE, "model_context_window_exceeded"), "anthropic"),
        OutputType.of(Capital),  # type: ignore[arg-type]
    )
    assert result.error is not None and result.error.type == CONTEXT_WINDOW_EXCEEDED
    assert "context window" in result.error.message and "shorten the prompt" in result.error.message
    assert retry_reason(result) is None  # the prompt is too long: another answer is cut too
