"""Structured output over HTTP: schema-conforming answers and the answer markers, on both
wire formats."""

from __future__ import annotations

import math
from typing import Any

import httpx
import orjson
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator import openai_helpers as oh
from tests.emulator.emulator_helpers import request
from tests.emulator.structured_helpers import (
    CITY,
    FRANCE,
    PERSON,
    Address,
    Person,
    anthropic_format,
    anthropic_texts,
    content_of,
    openai_format,
    openai_run,
    text_of,
)

SCHEMAS: list[tuple[dict[str, Any], Any]] = [
    (CITY, {"city": "Paris"}),
    (Person.model_json_schema(), PERSON),
    (
        {
            "type": "object",
            "properties": {
                "n": {"type": "integer", "minimum": 3, "maximum": 9},
                "x": {"type": "number", "exclusiveMinimum": 0},
                "flag": {"const": "yes"},
                "maybe": {"type": ["string", "null"], "maxLength": 3},
                "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "null"}]},
                "three": {"type": "array", "items": {"type": "boolean"}, "minItems": 3},
                "when": {"type": "string", "format": "date-time"},
                "id": {"type": "string", "format": "uuid"},
                "plain": {"type": "string", "format": "text", "minLength": 8},
                "both": {"allOf": [{"$ref": "#/$defs/A"}, {"$ref": "#/$defs/B"}]},
            },
        },
        {
            "n": 3,
            "x": 0.5,
            "flag": "yes",
            "maybe": "Par",
            "pair": [0, None],
            "three": [True, True, True],
            "when": "2026-01-01T00:00:00Z",
            "id": "00000000-0000-4000-8000-000000000000",
            "plain": "Paris...",
            "both": {"a": 0, "b": 0.0},
        },
    ),
]
DEFS = {
    "A": {"type": "object", "properties": {"a": {"type": "integer"}}},
    "B": {"type": "object", "properties": {"b": {"type": "number"}}},
}
SCHEMAS[2][0]["$defs"] = DEFS


@pytest.mark.parametrize(("schema", "expected"), SCHEMAS, ids=["city", "pydantic", "keywords"])
def test_anthropic_answers_the_documented_instance(
    client: httpx.Client, schema: dict[str, Any], expected: Any
) -> None:
    got = anthropic_texts(client, [request("s", FRANCE, output_config=anthropic_format(schema))])
    text = text_of(got["s"])
    assert text == orjson.dumps(expected).decode()
    if schema is SCHEMAS[1][0]:
        assert Person.model_validate_json(text).home == Address(street="Paris", zip_code=0)


@pytest.mark.parametrize(("schema", "expected"), SCHEMAS, ids=["city", "pydantic", "keywords"])
def test_openai_answers_the_documented_instance(
    oclient: httpx.Client, oemu: Emulator, schema: dict[str, Any], expected: Any
) -> None:
    output, errors = openai_run(
        oclient, oemu, [oh.line("s", FRANCE, response_format=openai_format(schema))]
    )
    assert errors == {}
    assert content_of(output["s"]) == orjson.dumps(expected).decode()


def test_strings_carry_the_plain_reply_and_usage_counts_the_json(client: httpx.Client) -> None:
    got = anthropic_texts(
        client,
        [
            request("a", FRANCE, output_config=anthropic_format(CITY)),
            request("b", "Describe a cat", output_config=anthropic_format(CITY)),
            request("c", FRANCE),
        ],
    )
    assert text_of(got["a"]) == '{"city":"Paris"}'
    assert text_of(got["b"]) == '{"city":"Emulated reply to: Describe a cat"}'
    assert text_of(got["c"]) == "Paris"
    usage = got["b"]["message"]["usage"]
    assert usage["output_tokens"] == math.ceil(len(text_of(got["b"])) / 4)
    assert got["a"]["message"]["stop_reason"] == "end_turn"


def test_same_request_gives_the_same_answer(client: httpx.Client) -> None:
    schema = Person.model_json_schema()
    first = anthropic_texts(client, [request("p", "Who?", output_config=anthropic_format(schema))])
    second = anthropic_texts(client, [request("p", "Who?", output_config=anthropic_format(schema))])
    assert text_of(first["p"]) == text_of(second["p"])


def test_openai_json_mode_and_schemaless_json_schema(oclient: httpx.Client, oemu: Emulator) -> None:
    no_schema = {"type": "json_schema", "json_schema": {"name": "any"}}
    output, _ = openai_run(
        oclient,
        oemu,
        [
            oh.line("j", FRANCE, response_format={"type": "json_object"}),
            oh.line("n", FRANCE, response_format=no_schema),
            oh.line("t", FRANCE, response_format={"type": "text"}),
        ],
    )
    assert (content_of(output["j"]), content_of(output["n"]), content_of(output["t"])) == (
        "{}",
        "null",
        "Paris",
    )


@pytest.mark.parametrize(
    ("marker", "expected"),
    [("[[emulate:off_schema]]", '[{"city":"Paris"}]'), ("[[emulate:not_json]]", '{"city":')],
)
def test_answer_markers_on_both_apis(
    client: httpx.Client, oclient: httpx.Client, oemu: Emulator, marker: str, expected: str
) -> None:
    prompt = f"Which city? {marker}"
    schema = {**CITY, "properties": {"city": {"type": "string", "maxLength": 5}}}
    got = anthropic_texts(client, [request("m", prompt, output_config=anthropic_format(schema))])
    assert text_of(got["m"]) == expected.replace("Paris", "Emula")
    output, _ = openai_run(
        oclient, oemu, [oh.line("m", prompt, response_format=openai_format(schema))]
    )
    assert content_of(output["m"]) == expected.replace("Paris", "Emula")


def test_counted_answer_marker_then_conforming(client: httpx.Client, emu: Emulator) -> None:
    entry = request("c", "City [[emulate:off_schema:x2]]", output_config=anthropic_format(CITY))
    texts = [text_of(anthropic_texts(client, [entry])["c"]) for _ in range(3)]
    conforming = '{"city":"Emulated reply to: City [[emulate:off_schema:x2]]"}'
    assert texts == ["[" + conforming + "]", "[" + conforming + "]", conforming]
    assert emu.submissions("c") == 3


def test_counted_not_json_on_openai(oclient: httpx.Client, oemu: Emulator) -> None:
    entry = oh.line("c", "City [[emulate:not_json:x1]]", response_format=openai_format(CITY))
    first, _ = openai_run(oclient, oemu, [entry])
    second, _ = openai_run(oclient, oemu, [entry])
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(content_of(first["c"]))
    assert orjson.loads(content_of(second["c"])) == {
        "city": "Emulated reply to: City [[emulate:not_json:x1]]"
    }


def test_answer_marker_composes_with_an_outcome_marker(client: httpx.Client) -> None:
    prompt = "City [[emulate:errored:x1]] [[emulate:off_schema:x2]]"
    entry = request("k", prompt, output_config=anthropic_format(CITY))
    kinds = []
    for _ in range(3):
        result = anthropic_texts(client, [entry])["k"]
        kinds.append(result["type"] if result["type"] != "succeeded" else text_of(result)[0])
    assert kinds == ["errored", "[", "{"]


def test_answer_marker_without_structured_output_is_prompt_text(client: httpx.Client) -> None:
    got = anthropic_texts(client, [request("p", "Hi [[emulate:off_schema]]")])
    assert text_of(got["p"]) == "Emulated reply to: Hi [[emulate:off_schema]]"


MORE_KEYWORDS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "one": {"oneOf": [{"type": "integer", "maximum": -2}, {"type": "string"}]},
        "few": {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 2},
        "below": {"type": "number", "exclusiveMaximum": -1},
        "anything": {},
        "pat": {"type": "string", "pattern": "^[0-9]+$"},
        "map": {"type": "object", "additionalProperties": {"type": "integer"}},
        "above": {"type": "integer", "exclusiveMinimum": 2},
        "multiple": {"type": "integer", "multipleOf": 7, "minimum": 1},
        "unique": {
            "type": "array",
            "items": {"type": "integer"},
            "minItems": 2,
            "uniqueItems": True,
        },
        "formats": {
            "type": "array",
            "prefixItems": [
                {"type": "string", "format": name}
                for name in ("date", "time", "duration", "email", "hostname", "uri", "ipv4", "ipv6")
            ],
        },
        "loop": {"$ref": "#/$defs/N"},
    },
    "$defs": {
        "N": {
            "type": "object",
            "properties": {
                "next": {"$ref": "#/$defs/N"},
                "up": {"anyOf": [{"$ref": "#/$defs/N"}, {"type": "null"}]},
            },
            "required": ["up"],
        }
    },
}


def test_more_keywords_and_self_references(client: httpx.Client) -> None:
    got = anthropic_texts(
        client, [request("k", FRANCE, output_config=anthropic_format(MORE_KEYWORDS))]
    )
    assert orjson.loads(text_of(got["k"])) == {
        "one": -2,
        "few": [0, 0],
        "below": -1.5,
        "anything": None,
        "pat": "Paris",
        "map": {},
        "above": 3,
        "multiple": 1,
        "unique": [0, 0],
        "formats": [
            "2026-01-01",
            "00:00:00Z",
            "P1D",
            "emulated@example.com",
            "example.com",
            "https://example.com/",
            "127.0.0.1",
            "::1",
        ],
        "loop": {"up": None},
    }


def test_reply_hooks_win_and_openai_usage_counts_the_json(
    oclient: httpx.Client, oemu: Emulator
) -> None:
    output, _ = openai_run(
        oclient, oemu, [oh.line("u", FRANCE, response_format=openai_format(CITY))]
    )
    usage = output["u"]["response"]["body"]["usage"]
    assert usage["completion_tokens"] == math.ceil(len('{"city":"Paris"}') / 4)
    oemu.settings.reply_text = lambda body: "hooked"
    hooked, _ = openai_run(
        oclient, oemu, [oh.line("h", FRANCE, response_format=openai_format(CITY))]
    )
    assert content_of(hooked["h"]) == "hooked"


def test_anthropic_reply_content_wins(emu: Emulator, client: httpx.Client) -> None:
    emu.settings.reply_content = lambda params: [{"type": "text", "text": "blocks"}]
    got = anthropic_texts(client, [request("h", FRANCE, output_config=anthropic_format(CITY))])
    assert text_of(got["h"]) == "blocks"


def test_a_reference_loop_that_cannot_end_answers_null(client: httpx.Client) -> None:
    node = {"type": "object", "properties": {"n": {"$ref": "#/$defs/N"}}, "required": ["n"]}
    schema = {"$defs": {"N": node}, "$ref": "#/$defs/N"}
    got = anthropic_texts(client, [request("z", FRANCE, output_config=anthropic_format(schema))])
    assert text_of(got["z"]) == "null"
