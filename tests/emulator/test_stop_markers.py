"""The ``[[emulate:refusal]]`` and ``[[emulate:max_tokens]]`` answer markers over HTTP, on
both wire formats, with and without structured output."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator import openai_helpers as oh
from tests.emulator.emulator_helpers import request
from tests.emulator.structured_helpers import (
    CITY,
    anthropic_format,
    anthropic_texts,
    openai_format,
    openai_run,
    text_of,
)

REFUSAL = "I can't help with that."
REFUSED = "Name a city [[emulate:refusal]]"
CUT = "Name a city [[emulate:max_tokens]]"
# The plain reply to CUT is "Emulated reply to: Name a city [[emulate:max_tokens]]" (53
# characters); with CITY's schema it is that string as {"city": ...} (64 characters).
STRUCTURED = [None, CITY]


def anthropic_one(client: httpx.Client, text: str, **params: Any) -> dict[str, Any]:
    result: dict[str, Any] = anthropic_texts(client, [request("r", text, **params)])["r"]
    assert result["type"] == "succeeded", result
    return result


def openai_one(
    client: httpx.Client, emu: Emulator, text: str, **body: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The succeeded line's ``choices[0]`` and ``usage`` (asserting the 200 line)."""
    output, errors = openai_run(client, emu, [oh.line("r", text, **body)])
    assert errors == {}
    response = output["r"]["response"]
    assert response["status_code"] == 200 and output["r"]["error"] is None
    (choice,) = response["body"]["choices"]
    usage: dict[str, Any] = response["body"]["usage"]
    return choice, usage


@pytest.mark.parametrize("schema", STRUCTURED, ids=["plain", "structured"])
def test_anthropic_refusal_line(client: httpx.Client, schema: dict[str, Any] | None) -> None:
    extra = {} if schema is None else {"output_config": anthropic_format(schema)}
    message = anthropic_one(client, REFUSED, **extra)["message"]
    assert message["content"] == [{"type": "text", "text": REFUSAL}]
    assert message["stop_reason"] == "refusal"
    assert message["stop_details"] == {"type": "refusal", "category": None, "explanation": None}
    assert message["stop_sequence"] is None
    assert message["usage"]["output_tokens"] == 6  # ceil(23 / 4)


@pytest.mark.parametrize("schema", STRUCTURED, ids=["plain", "structured"])
def test_openai_refusal_line(
    oclient: httpx.Client, oemu: Emulator, schema: dict[str, Any] | None
) -> None:
    extra = {} if schema is None else {"response_format": openai_format(schema)}
    choice, usage = openai_one(oclient, oemu, REFUSED, **extra)
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "refusal": REFUSAL,
        "annotations": [],
    }
    assert choice["finish_reason"] == "stop"
    assert usage["completion_tokens"] == 6
    assert usage["total_tokens"] == usage["prompt_tokens"] + 6


@pytest.mark.parametrize(
    ("schema", "max_tokens", "expected"),
    [
        (None, 16, "Emulated reply to: Name a "),  # 53 chars fit in 64: the first half
        (None, 5, "Emulated reply to: N"),  # longer than 5 tokens: the first 20 chars
        (CITY, 16, '{"city":"Emulated reply to: Name'),
        (CITY, 4, '{"city":"Emulate'),
    ],
    ids=["plain-half", "plain-limit", "structured-half", "structured-limit"],
)
def test_anthropic_max_tokens_line(
    client: httpx.Client, schema: dict[str, Any] | None, max_tokens: int, expected: str
) -> None:
    extra = {} if schema is None else {"output_config": anthropic_format(schema)}
    result = anthropic_one(client, CUT, max_tokens=max_tokens, **extra)
    assert text_of(result) == expected
    assert result["message"]["stop_reason"] == "max_tokens"
    assert "stop_details" not in result["message"]
    assert result["message"]["usage"]["output_tokens"] == max_tokens
    if schema is not None:
        with pytest.raises(orjson.JSONDecodeError):
            orjson.loads(expected)


@pytest.mark.parametrize(
    ("limits", "schema", "expected", "completion_tokens"),
    [
        ({"max_tokens": 5}, None, "Emulated reply to: N", 5),
        ({"max_completion_tokens": 4, "max_tokens": 99}, CITY, '{"city":"Emulate', 4),
        ({"max_tokens": None}, CITY, '{"city":"Emulated reply to: Name', 8),  # no limit
    ],
    ids=["max_tokens", "max_completion_tokens-first", "no-limit"],
)
def test_openai_max_tokens_line(
    oclient: httpx.Client,
    oemu: Emulator,
    limits: dict[str, Any],
    schema: dict[str, Any] | None,
    expected: str,
    completion_tokens: int,
) -> None:
    extra = {} if schema is None else {"response_format": openai_format(schema)}
    choice, usage = openai_one(oclient, oemu, CUT, **limits, **extra)
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"] == expected
    assert choice["message"]["refusal"] is None
    assert usage["completion_tokens"] == completion_tokens


def test_openai_batch_usage_sums_the_limit(oclient: httpx.Client, oemu: Emulator) -> None:
    batch = oh.create(oclient, [oh.line("r", CUT, max_completion_tokens=7)])
    oemu.advance(60)
    assert oh.retrieve(oclient, batch["id"])["usage"]["output_tokens"] == 7


def test_a_structured_cut_never_parses(client: httpx.Client) -> None:
    # "10" halves to "1", which parses: the cut loses characters until it does not.
    schema = {"type": "integer", "minimum": 10}
    result = anthropic_one(client, CUT, output_config=anthropic_format(schema))
    assert text_of(result) == ""
    plain = anthropic_one(client, "Integer [[emulate:max_tokens]]", max_tokens=1)
    assert text_of(plain) == "Emul"


def test_counted_refusal_then_answers_on_both_apis(
    client: httpx.Client, emu: Emulator, oclient: httpx.Client, oemu: Emulator
) -> None:
    text = "Name a city [[emulate:refusal:x1]]"
    first, second = (anthropic_one(client, text)["message"] for _ in range(2))
    assert (first["stop_reason"], first["content"][0]["text"]) == ("refusal", REFUSAL)
    assert second["stop_reason"] == "end_turn" and "stop_details" not in second
    assert second["content"][0]["text"] == "Emulated reply to: " + text
    assert emu.submissions("r") == 2
    choices = [openai_one(oclient, oemu, text)[0] for _ in range(2)]
    assert [c["message"]["refusal"] for c in choices] == [REFUSAL, None]
    assert choices[1]["message"]["content"] == "Emulated reply to: " + text
    assert oemu.submissions("r", api="openai") == 2


def test_counted_max_tokens_then_answers_on_both_apis(
    client: httpx.Client, oclient: httpx.Client, oemu: Emulator
) -> None:
    text = "Name a city [[emulate:max_tokens:x2]]"
    entry = request("c", text, output_config=anthropic_format(CITY))
    stops = []
    for _ in range(3):
        message = anthropic_texts(client, [entry])["c"]["message"]
        stops.append((message["stop_reason"], message["content"][0]["text"][:9]))
    assert stops == [("max_tokens", '{"city":"')] * 2 + [("end_turn", '{"city":"')]
    assert orjson.loads(message["content"][0]["text"]) == {"city": "Emulated reply to: " + text}
    finishes = [openai_one(oclient, oemu, text)[0]["finish_reason"] for _ in range(3)]
    assert finishes == ["length", "length", "stop"]


def test_first_answer_marker_wins_and_shape_markers_need_a_schema(client: httpx.Client) -> None:
    text = "City [[emulate:off_schema]] [[emulate:refusal]]"
    # Without structured output off_schema is prompt text: the refusal marker decides.
    assert anthropic_one(client, text)["message"]["stop_reason"] == "refusal"
    structured = anthropic_one(client, text, output_config=anthropic_format(CITY))
    assert structured["message"]["stop_reason"] == "end_turn"
    assert text_of(structured).startswith('[{"city":')
    cut_first = anthropic_one(client, "[[emulate:max_tokens]] [[emulate:refusal]]")
    assert cut_first["message"]["stop_reason"] == "max_tokens"


def test_malformed_counts_are_prompt_text(client: httpx.Client) -> None:
    for text in ("[[emulate:refusal:x0]]", "[[emulate:max_tokens:X1]]", "[[emulate:refusal:]]"):
        message = anthropic_one(client, text)["message"]
        assert message["stop_reason"] == "end_turn", text
        assert message["content"][0]["text"] == "Emulated reply to: " + text


def test_composes_with_an_outcome_marker(client: httpx.Client) -> None:
    entry = request("k", "[[emulate:errored:x1]] [[emulate:refusal:x2]]")
    kinds = []
    for _ in range(3):
        result = anthropic_texts(client, [entry])["k"]
        kinds.append(
            result["type"] if result["type"] != "succeeded" else result["message"]["stop_reason"]
        )
    assert kinds == ["errored", "refusal", "end_turn"]


def test_reply_hooks_win_over_the_markers(
    emu: Emulator, client: httpx.Client, oclient: httpx.Client, oemu: Emulator
) -> None:
    emu.settings.reply_text = lambda params: "hooked"
    message = anthropic_one(client, REFUSED)["message"]
    assert (message["stop_reason"], message["content"][0]["text"]) == ("end_turn", "hooked")
    oemu.settings.reply_content = lambda body: [{"type": "text", "text": "blocks"}]
    choice, usage = openai_one(oclient, oemu, CUT)
    assert (choice["finish_reason"], choice["message"]["content"]) == ("stop", "blocks")
    assert usage["completion_tokens"] == 2
