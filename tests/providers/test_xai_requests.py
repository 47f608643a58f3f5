"""xAI request mapping: a BatchRequest as a `chat_get_completion` body, its entry, its chunks."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from batchwork_prefect.models import BatchRequest
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers.xai import (
    CHUNK_BYTES,
    UNSUPPORTED,
    add_body,
    add_wait,
    chunks,
    encode_request,
    output_fields,
    request_params,
)
from batchwork_prefect.providers.xai.requests import MAX_ENTRY_BYTES, entry_id

MODEL = "grok-4-1-fast-reasoning"


def _params(defaults: dict[str, Any] | None = None, **request: Any) -> dict[str, Any]:
    return request_params(MODEL, BatchRequest(**request), defaults or {})


def test_a_prompt_with_every_mapped_field_gives_this_exact_body() -> None:
    body = _params(
        {"temperature": 0.5},
        prompt="hi",
        system="Be brief.",
        max_tokens=50,
        top_p=0.9,
        stop_sequences=["END"],
        params={"reasoning_effort": "low", "seed": 7},
    )
    assert body == {
        "model": MODEL,
        "temperature": 0.5,
        "max_completion_tokens": 50,
        "top_p": 0.9,
        "stop": ["END"],
        "reasoning_effort": "low",
        "seed": 7,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
    }


def test_messages_pass_as_given() -> None:
    given = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    assert _params(messages=given)["messages"] == given


def test_the_entry_is_the_reference_shape_with_the_custom_id_as_batch_request_id() -> None:
    # the reference's request example: {"batch_request_id", "batch_request":
    # {"chat_get_completion": {"messages", "model"}}}
    body = {"messages": [{"role": "user", "content": "What is 101*3?"}], "model": "grok-4"}
    entry = encode_request("test_request_0", body)
    assert orjson.loads(entry) == {
        "batch_request_id": "test_request_0",
        "batch_request": {"chat_get_completion": body},
    }
    assert entry_id(entry) == "test_request_0"


@pytest.mark.parametrize(
    ("request_fields", "named"),
    [
        ({"tools": [{"name": "f", "input_schema": {"type": "object"}}]}, "tools"),
        ({"tool_choice": {"type": "auto"}}, "tool_choice"),
        ({"top_k": 5}, "top_k"),
        ({"params": {"tools": []}}, "params.tools"),
        ({"params": {"search_parameters": {"mode": "on"}}}, "params.search_parameters"),
        ({"params": {"web_search_options": {}}}, "params.web_search_options"),
        ({"params": {"deferred": True}}, "params.deferred"),
        ({"params": {"thinking": {"type": "enabled"}}}, "params.thinking"),
    ],
)
def test_what_xai_batches_cannot_take_is_refused_naming_the_field(
    request_fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=named.replace(".", r"\.")) as refused:
        _params(prompt="hi", **request_fields)
    assert UNSUPPORTED[named.split(".")[-1]] in str(refused.value)


def test_tools_in_defaults_are_refused_too() -> None:
    with pytest.raises(ValueError, match=r"defaults\.tools: xAI's Batch API does not support"):
        _params({"tools": []}, prompt="hi")


def test_more_than_four_stop_sequences_are_refused() -> None:
    with pytest.raises(ValueError, match="at most 4, not 5"):
        _params(prompt="hi", stop_sequences=["a", "b", "c", "d", "e"])


def test_typed_output_is_a_strict_json_schema_response_format() -> None:
    output = OutputType.of({"type": "object", "properties": {"city": {"type": "string"}}})
    assert output is not None
    fields = output_fields(output)
    assert fields["response_format"]["type"] == "json_schema"
    assert fields["response_format"]["json_schema"]["strict"] is True
    body = request_params(MODEL, BatchRequest(prompt="hi"), {}, fields)
    assert body["response_format"] == fields["response_format"]


def test_an_entry_too_large_for_one_add_call_is_refused() -> None:
    with pytest.raises(ValueError, match="shorten it"):
        encode_request("big", {"model": MODEL, "messages": [{"content": "x" * MAX_ENTRY_BYTES}]})


def test_chunks_keep_each_add_body_within_the_limit_and_in_order() -> None:
    entries = [encode_request(f"r{i}", {"model": MODEL, "n": "x" * 30}) for i in range(10)]
    limit = len(add_body(entries[:3]))
    spans = chunks(entries, limit)
    assert [list(span) for span in spans] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    assert all(len(add_body(entries[span.start : span.stop])) <= limit for span in spans)
    assert orjson.loads(add_body(entries[:2]))["batch_requests"][1]["batch_request_id"] == "r1"


def test_one_chunk_holds_everything_under_25_mb() -> None:
    entries = [encode_request(f"r{i}", {"model": MODEL}) for i in range(1000)]
    assert chunks(entries) == [range(0, 1000)]
    assert CHUNK_BYTES == 25_000_000


def test_add_calls_wait_only_past_100_in_30_seconds() -> None:
    assert add_wait([0.0] * 99, 1.0, calls=100, window=30.0) == 0.0
    assert add_wait([0.0] * 100, 1.0, calls=100, window=30.0) == 29.0
    assert add_wait([0.0] * 100, 30.0, calls=100, window=30.0) == 0.0
