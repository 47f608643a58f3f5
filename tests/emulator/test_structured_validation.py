"""Structured output over HTTP: the shape checks of ``output_config`` (Anthropic) and
``response_format`` (OpenAI), each a per-request error, not a refused batch."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator import openai_helpers as oh
from tests.emulator.emulator_helpers import request
from tests.emulator.structured_helpers import (
    CITY,
    FRANCE,
    anthropic_texts,
    content_of,
    openai_format,
    openai_run,
    text_of,
)


@pytest.mark.parametrize(
    ("output_config", "message"),
    [
        ("json", "output_config: Input should be a valid dictionary"),
        ({"format": []}, "output_config.format: Input should be a valid dictionary"),
        ({"format": {"schema": CITY}}, "output_config.format.type: Field required"),
        (
            {"format": {"type": "json", "schema": CITY}},
            "output_config.format.type: Input should be 'json_schema'",
        ),
        ({"format": {"type": "json_schema"}}, "output_config.format.schema: Field required"),
        (
            {"format": {"type": "json_schema", "schema": "x"}},
            "output_config.format.schema: Input should be a valid dictionary",
        ),
    ],
)
def test_anthropic_bad_output_config_is_an_errored_line(
    client: httpx.Client, output_config: Any, message: str
) -> None:
    got = anthropic_texts(client, [request("b", FRANCE, output_config=output_config)])
    assert got["b"]["type"] == "errored"
    inner = got["b"]["error"]["error"]
    assert (inner["type"], inner["message"]) == ("invalid_request_error", message)


def test_anthropic_output_config_without_format_answers_plainly(client: httpx.Client) -> None:
    got = anthropic_texts(client, [request("e", FRANCE, output_config={"effort": "low"})])
    assert text_of(got["e"]) == "Paris"


@pytest.mark.parametrize(
    ("response_format", "code", "param"),
    [
        ("json", "invalid_type", "response_format"),
        ({"json_schema": {"name": "a"}}, "missing_required_parameter", "response_format.type"),
        ({"type": "yaml"}, "invalid_value", "response_format.type"),
        ({"type": "json_schema"}, "missing_required_parameter", "response_format.json_schema"),
        (
            {"type": "json_schema", "json_schema": {"schema": CITY}},
            "missing_required_parameter",
            "response_format.json_schema.name",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "a b", "schema": CITY}},
            "invalid_value",
            "response_format.json_schema.name",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "a", "schema": []}},
            "invalid_type",
            "response_format.json_schema.schema",
        ),
        (
            {"type": "json_schema", "json_schema": {"name": "a", "strict": "yes"}},
            "invalid_type",
            "response_format.json_schema.strict",
        ),
    ],
)
def test_openai_bad_response_format_is_a_400_line(
    oclient: httpx.Client, oemu: Emulator, response_format: Any, code: str, param: str
) -> None:
    output, errors = openai_run(
        oclient,
        oemu,
        [oh.line("b", FRANCE, response_format=response_format), oh.line("ok", FRANCE)],
    )
    assert set(output) == {"ok"}
    response = errors["b"]["response"]
    assert response["status_code"] == 400
    error = response["body"]["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, param)


def test_null_format_and_unchecked_schema_content(
    client: httpx.Client, oclient: httpx.Client, oemu: Emulator
) -> None:
    lax = {"type": "object", "properties": {"a": {"type": "boolean"}}}  # not strict-ready
    got = anthropic_texts(client, [request("n", FRANCE, output_config={"format": None})])
    assert text_of(got["n"]) == "Paris"
    output, errors = openai_run(
        oclient, oemu, [oh.line("l", FRANCE, response_format=openai_format(lax))]
    )
    assert errors == {}
    assert content_of(output["l"]) == '{"a":true}'
