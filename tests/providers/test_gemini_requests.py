"""Gemini's request mapping: exact GenerateContentRequest bodies, refusals before sending."""

from __future__ import annotations

import orjson
import pytest
from pydantic import BaseModel

from batchwork_prefect.models import BatchRequest
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers.gemini import (
    encode_request,
    inline_entry,
    output_fields,
    request_params,
)

MODEL = "gemini-2.5-flash"


def test_prompt_and_typed_fields_map_to_contents_system_and_generation_config() -> None:
    request = BatchRequest(
        prompt="Hi",
        system="Be brief.",
        max_tokens=50,
        temperature=0.5,
        top_p=0.9,
        top_k=40,
        stop_sequences=["END"],
    )
    assert request_params(MODEL, request, {}) == {
        "model": "models/gemini-2.5-flash",
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {
            "maxOutputTokens": 50,
            "temperature": 0.5,
            "topP": 0.9,
            "topK": 40,
            "stopSequences": ["END"],
        },
    }


def test_no_max_tokens_is_sent_when_none_is_given() -> None:
    body = request_params(MODEL, BatchRequest(prompt="Hi"), {})
    assert body == {
        "model": "models/gemini-2.5-flash",
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
    }


def test_messages_map_assistant_to_model_and_text_blocks_to_parts() -> None:
    request = BatchRequest(
        messages=[
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": [{"type": "text", "text": "4"}]},
            {"role": "user", "parts": [{"text": "and 3+3?"}]},
        ],
        system=[{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
    )
    body = request_params(MODEL, request, {})
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "2+2?"}]},
        {"role": "model", "parts": [{"text": "4"}]},
        {"role": "user", "parts": [{"text": "and 3+3?"}]},
    ]
    assert body["systemInstruction"] == {"parts": [{"text": "A"}, {"text": "B"}]}


def test_precedence_defaults_then_params_then_typed_fields() -> None:
    defaults = {"temperature": 0.1, "generationConfig": {"candidateCount": 1, "topP": 0.2}}
    request = BatchRequest(
        prompt="x",
        top_p=0.7,
        params={
            "generationConfig": {"seed": 7, "topP": 0.3},
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        },
    )
    body = request_params(MODEL, request, defaults)
    # params' generationConfig replaces the defaults' (a field replaces, as for others);
    # the typed fields are written into it last.
    assert body["generationConfig"] == {"seed": 7, "topP": 0.7, "temperature": 0.1}
    assert body["safetySettings"] == [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}
    ]


def test_tools_and_tool_choice_map_to_function_declarations_and_tool_config() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    request = BatchRequest(
        prompt="weather?",
        tools=[
            {"name": "get_weather", "description": "Weather", "input_schema": schema},
            {"googleSearch": {}},
            {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}},
        ],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    body = request_params(MODEL, request, {})
    assert body["tools"] == [
        {
            "functionDeclarations": [
                {"name": "get_weather", "description": "Weather", "parametersJsonSchema": schema},
                {"name": "now", "parametersJsonSchema": {"type": "object"}},
            ]
        },
        {"googleSearch": {}},
    ]
    assert body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }


@pytest.mark.parametrize(("choice", "mode"), [("auto", "AUTO"), ("any", "ANY"), ("none", "NONE")])
def test_tool_choice_modes(choice: str, mode: str) -> None:
    body = request_params(MODEL, BatchRequest(prompt="x", tool_choice={"type": choice}), {})
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": mode}}


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        (BatchRequest(prompt="x", params={"thinking": {"type": "enabled"}}), "thinkingConfig"),
        (BatchRequest(prompt="x", params={"contents": []}), "params.contents"),
        (BatchRequest(prompt="x", params={"max_output_tokens": 3}), "params.max_output_tokens"),
        (BatchRequest(prompt="x", stop_sequences=list("abcdef")), "at most 5"),
        (BatchRequest(messages=[{"role": "system", "content": "s"}]), "give a system prompt"),
        (
            BatchRequest(messages=[{"role": "user", "content": [{"type": "image"}]}]),
            "only text blocks",
        ),
        (BatchRequest(prompt="x", tools=[{"type": "web_search_20250305"}]), "tools[0]"),
        (
            BatchRequest(
                prompt="x", tool_choice={"type": "auto", "disable_parallel_tool_use": True}
            ),
            "disable_parallel_tool_use",
        ),
    ],
)
def test_what_gemini_cannot_take_is_refused_naming_the_fix(
    request_: BatchRequest, words: str
) -> None:
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        request_params(MODEL, request_, {})


def test_a_model_unsafe_in_the_url_path_is_refused() -> None:
    with pytest.raises(ValueError, match="not a Gemini model name"):
        request_params("../files", BatchRequest(prompt="x"), {})


class City(BaseModel):
    name: str
    population: int


def test_output_asks_for_json_with_the_schema_as_response_json_schema() -> None:
    typed = OutputType.of(City)
    assert typed is not None
    fields = output_fields(typed, MODEL)
    assert fields == {
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseJsonSchema": City.model_json_schema(),
        }
    }
    body = request_params(MODEL, BatchRequest(prompt="x", max_tokens=9), {}, fields)
    assert body["generationConfig"] == {
        "maxOutputTokens": 9,
        "responseMimeType": "application/json",
        "responseJsonSchema": City.model_json_schema(),
    }


def test_a_typed_batch_refuses_a_request_with_its_own_response_schema() -> None:
    typed = OutputType.of(City)
    assert typed is not None
    fields = output_fields(typed, MODEL)
    own = BatchRequest(prompt="x", params={"generationConfig": {"responseMimeType": "text/x"}})
    with pytest.raises(ValueError, match="output= sets it"):
        request_params(MODEL, own, {}, fields)


def test_encoded_line_and_its_inline_entry() -> None:
    params = request_params(MODEL, BatchRequest(prompt="Hi"), {})
    line = encode_request("req-1", params)
    assert orjson.loads(line) == {"key": "req-1", "request": params}
    assert orjson.loads(inline_entry(line)) == {"request": params, "metadata": {"key": "req-1"}}


def test_tool_use_blocks_become_function_call_parts() -> None:
    request = BatchRequest(
        messages=[
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Looking."},
                    {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"c": "P"}},
                ],
            },
        ]
    )
    assert request_params(MODEL, request, {})["contents"][1] == {
        "role": "model",
        "parts": [
            {"text": "Looking."},
            {"functionCall": {"name": "get_weather", "args": {"c": "P"}}},
        ],
    }
