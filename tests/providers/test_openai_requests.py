"""OpenAI request mapping: a BatchRequest as a Chat Completions body, and its input line."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect import InvalidBatchError
from batchwork_prefect.core import build_parts
from batchwork_prefect.models import BatchRequest
from batchwork_prefect.providers import get_format
from batchwork_prefect.providers.openai import (
    ENDPOINT,
    LIMITS,
    OpenAIFormat,
    encode_request,
    request_params,
)

MODEL = "gpt-4o-mini"


def _params(defaults: dict[str, Any] | None = None, **request: Any) -> dict[str, Any]:
    return request_params(MODEL, BatchRequest(**request), defaults or {})


def test_a_prompt_is_one_user_message_and_nothing_else_is_added() -> None:
    assert _params(prompt="hi") == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
    }


def test_system_becomes_a_leading_system_message() -> None:
    body = _params(prompt="hi", system="Be brief.")
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]


def test_messages_pass_through_after_the_system_message() -> None:
    given_messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": [{"type": "text", "text": "c"}]},
    ]
    body = _params(messages=given_messages, system=[{"type": "text", "text": "s"}])
    assert body["messages"] == [
        {"role": "system", "content": [{"type": "text", "text": "s"}]},
        *given_messages,
    ]


@pytest.mark.parametrize(
    ("field", "value", "sent_as", "sent"),
    [
        ("max_tokens", 50, "max_completion_tokens", 50),
        ("temperature", 0.2, "temperature", 0.2),
        ("top_p", 0.9, "top_p", 0.9),
        ("stop_sequences", ["END", "STOP"], "stop", ["END", "STOP"]),
    ],
)
def test_typed_fields_map_to_openai_names(field: str, value: Any, sent_as: str, sent: Any) -> None:
    body = _params(prompt="hi", **{field: value})
    assert body[sent_as] == sent
    if sent_as != field:
        assert field not in body


def test_no_max_tokens_is_sent_unless_given() -> None:
    assert "max_completion_tokens" not in _params(prompt="hi")
    assert "max_tokens" not in _params(prompt="hi")


def test_params_pass_through_untouched() -> None:
    extra = {"reasoning_effort": "low", "seed": 7, "response_format": {"type": "json_object"}}
    body = _params(prompt="hi", params=extra)
    assert {key: body[key] for key in extra} == extra


def test_precedence_is_defaults_then_params_then_typed_fields() -> None:
    defaults = {"max_tokens": 1000, "temperature": 1.0, "seed": 1, "system": "default"}
    assert _params(defaults, prompt="hi")["max_completion_tokens"] == 1000
    body = _params(defaults, prompt="hi", params={"max_completion_tokens": 20, "seed": 2})
    assert (body["max_completion_tokens"], body["seed"], body["temperature"]) == (20, 2, 1.0)
    body = _params(defaults, prompt="hi", max_tokens=5, params={"max_completion_tokens": 20})
    assert body["max_completion_tokens"] == 5
    assert _params(defaults, prompt="hi", system="own")["messages"][0]["content"] == "own"
    assert _params(defaults, prompt="hi")["messages"][0]["content"] == "default"


@pytest.mark.parametrize(
    ("request_fields", "defaults", "words"),
    [
        ({"top_k": 5}, {}, "top_k"),
        ({}, {"top_k": 5}, "defaults.top_k"),
        ({"params": {"top_k": 5}}, {}, "params.top_k"),
        ({"params": {"thinking": {"type": "enabled"}}}, {}, "reasoning_effort"),
        ({"params": {"stop_sequences": ["x"]}}, {}, "stop_sequences field"),
        ({}, {"stop_sequences": ["x"] * 5}, "at most 4"),
        ({"params": {"system": "s"}}, {}, "system field"),
        ({"stop_sequences": ["a", "b", "c", "d", "e"]}, {}, "at most 4"),
        ({"params": {"stream": True}}, {}, "stream=True"),
        ({"params": {"model": "gpt-4o"}}, {}, "conflicts"),
        ({"tools": [{"type": "web_search_20250305", "name": "web"}]}, {}, "function tools"),
        ({"tool_choice": {"type": "sometimes"}}, {}, "tool_choice"),
    ],
)
def test_what_openai_cannot_take_is_refused_naming_the_fix(
    request_fields: dict[str, Any], defaults: dict[str, Any], words: str
) -> None:
    with pytest.raises(ValueError, match=words):
        _params(defaults, prompt="hi", **request_fields)


def test_an_unsupported_field_is_an_invalid_batch_before_anything_is_sent() -> None:
    with pytest.raises(InvalidBatchError) as caught:
        build_parts(get_format("openai"), MODEL, [{"custom_id": "a", "prompt": "x", "top_k": 3}])
    assert caught.value.problems == [
        "requests[0] (a): top_k: OpenAI has no top_k; remove it (top_p is nucleus sampling)"
    ]


ANTHROPIC_TOOL = {
    "name": "get_weather",
    "description": "Weather by city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
OPENAI_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather by city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_anthropic_shaped_tools_are_sent_as_functions_and_openai_ones_as_given() -> None:
    assert _params(prompt="hi", tools=[ANTHROPIC_TOOL])["tools"] == [OPENAI_TOOL]
    assert _params(prompt="hi", tools=[OPENAI_TOOL])["tools"] == [OPENAI_TOOL]
    cached = {**ANTHROPIC_TOOL, "cache_control": {"type": "ephemeral"}}
    assert _params(prompt="hi", tools=[cached])["tools"] == [OPENAI_TOOL]


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        ({"type": "auto"}, {"tool_choice": "auto"}),
        ({"type": "none"}, {"tool_choice": "none"}),
        ({"type": "any"}, {"tool_choice": "required"}),
        (
            {"type": "tool", "name": "get_weather"},
            {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
        ),
        (
            {"type": "function", "function": {"name": "f"}},
            {"tool_choice": {"type": "function", "function": {"name": "f"}}},
        ),
        (
            {"type": "auto", "disable_parallel_tool_use": True},
            {"tool_choice": "auto", "parallel_tool_calls": False},
        ),
    ],
)
def test_tool_choice_maps_to_openai_words(choice: dict[str, Any], sent: dict[str, Any]) -> None:
    body = _params(prompt="hi", tool_choice=choice)
    assert {key: body[key] for key in sent} == sent


def test_an_input_line_names_the_endpoint_and_carries_the_body() -> None:
    body = _params(prompt="hi")
    line = encode_request("fr", body)
    assert orjson.loads(line) == {
        "custom_id": "fr",
        "method": "POST",
        "url": ENDPOINT,
        "body": body,
    }
    assert ENDPOINT == "/v1/chat/completions"


def test_limits_are_openais() -> None:
    assert (LIMITS.max_requests, LIMITS.max_bytes) == (50_000, 200_000_000)
    assert OpenAIFormat().limits == LIMITS
    assert get_format("groq").limits == LIMITS


def test_the_custom_id_rule_is_the_projects_one_for_every_provider() -> None:
    for provider in ("openai", "groq"):
        with pytest.raises(InvalidBatchError, match="custom_id"):
            build_parts(get_format(provider), MODEL, [{"custom_id": "a b", "prompt": "x"}])


def test_a_batch_past_50000_requests_is_split_into_parts() -> None:
    requests = [{"custom_id": f"r{i}", "prompt": "x"} for i in range(50_001)]
    built = build_parts(get_format("openai"), MODEL, requests)
    assert [len(part.custom_ids) for part in built.parts] == [50_000, 1]


texts = st.text(max_size=30)


@given(
    prompt=texts,
    system=st.none() | texts,
    max_tokens=st.none() | st.integers(min_value=1, max_value=10**6),
    temperature=st.none() | st.floats(min_value=0, max_value=2),
    stop=st.none() | st.lists(texts, max_size=4),
)
def test_any_typed_request_maps_to_a_body_that_encodes(
    prompt: str,
    system: str | None,
    max_tokens: int | None,
    temperature: float | None,
    stop: list[str] | None,
) -> None:
    fields: dict[str, Any] = {
        "prompt": prompt,
        "system": system,
        "max_tokens": max_tokens,
        "temperature": temperature,
        "stop_sequences": stop,
    }
    given_fields = {key: value for key, value in fields.items() if value is not None}
    body = _params(**given_fields)
    assert body["messages"][-1] == {"role": "user", "content": prompt}
    assert (body["messages"][0]["role"] == "system") == (system is not None)
    assert body.get("max_completion_tokens") == max_tokens
    assert body.get("temperature") == temperature
    assert body.get("stop") == stop
    assert not set(body) & {"max_tokens", "system", "stop_sequences", "top_k"}
    assert orjson.loads(encode_request("x", body))["body"] == body
