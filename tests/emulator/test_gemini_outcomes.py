"""Per-request outcomes and answers on the Gemini routes: the shared outcome, stop and
structured-output markers as Gemini writes them, the whole-batch markers, the hooks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator.gemini_helpers import CREATE, base_url, create, get, inline, inlined, text_of

CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}


@pytest.fixture
def gemu() -> Iterator[Emulator]:
    with Emulator(time_scale=0, processing_seconds=60) as emu:
        yield emu


@pytest.fixture
def gclient(gemu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url(gemu)) as http:
        yield http


def _run(client: httpx.Client, emu: Emulator, *entries: dict[str, Any]) -> dict[str, Any]:
    name = create(client, *entries)["name"]
    emu.advance(60)
    return get(client, name)


@pytest.mark.parametrize(
    ("marker", "code"),
    [
        ("[[emulate:errored]]", 13),
        ("[[emulate:errored:invalid_request_error]]", 3),
        ("[[emulate:errored:rate_limit_error]]", 8),
        ("[[emulate:errored:overloaded_error]]", 14),
        ("[[emulate:errored:timeout_error]]", 4),
        ("[[emulate:errored:not_found_error]]", 5),
        ("[[emulate:errored:permission_error]]", 7),
        ("[[emulate:errored:authentication_error]]", 16),
        ("[[emulate:expired]]", 4),
        ("[[emulate:canceled]]", 1),
    ],
)
def test_outcome_markers_become_error_statuses(
    gclient: httpx.Client, gemu: Emulator, marker: str, code: int
) -> None:
    done = _run(gclient, gemu, inline("ok", "Hi"), inline("bad", f"Hi {marker}"))
    assert done["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    assert done["metadata"]["batchStats"] == {
        "requestCount": "2",
        "successfulRequestCount": "1",
        "failedRequestCount": "1",
    }
    ok, bad = inlined(done)
    assert "error" not in ok and text_of(ok) == "Emulated reply to: Hi"
    assert set(bad) == {"error", "metadata"} and bad["error"]["code"] == code


def test_counted_marker_and_submissions(gclient: httpx.Client, gemu: Emulator) -> None:
    entry = inline("again", "Hi [[emulate:errored:x1]]")
    first = inlined(_run(gclient, gemu, entry))[0]
    second = inlined(_run(gclient, gemu, entry))[0]
    assert first["error"]["code"] == 13 and "response" in second
    assert gemu.submissions("again", api="gemini") == 2
    assert gemu.submissions("again", api="openai") == 0


@pytest.mark.parametrize(
    ("marker", "state"),
    [
        ("[[emulate:batch_failed]]", "BATCH_STATE_FAILED"),
        ("[[emulate:batch_expired]]", "BATCH_STATE_EXPIRED"),
    ],
)
def test_whole_batch_markers(
    gclient: httpx.Client, gemu: Emulator, marker: str, state: str
) -> None:
    done = _run(gclient, gemu, inline("a", "Hi"), inline("b", f"Ho {marker}"))
    assert done["done"] is True and done["metadata"]["state"] == state
    assert "output" not in done["metadata"] and "response" not in done
    assert done["metadata"]["batchStats"] == {"requestCount": "2", "failedRequestCount": "2"}
    if state == "BATCH_STATE_FAILED":
        assert done["error"]["code"] == 13
    else:
        assert "error" not in done


def test_past_a_day_the_batch_expires() -> None:
    emu = Emulator(time_scale=0, processing_seconds=200_000)
    with emu, httpx.Client(base_url=base_url(emu.start())) as client:
        name = create(client, inline("a", "Hi"))["name"]
        emu.advance(86_400)
        assert get(client, name)["metadata"]["state"] == "BATCH_STATE_EXPIRED"


def test_max_tokens_cuts_the_reply(gclient: httpx.Client, gemu: Emulator) -> None:
    text = "Name a city [[emulate:max_tokens]]"
    (item,) = inlined(_run(gclient, gemu, inline("a", text, maxOutputTokens=3)))
    candidate = item["response"]["candidates"][0]
    assert candidate["finishReason"] == "MAX_TOKENS"
    assert text_of(item) == ("Emulated reply to: " + text)[:12]
    assert item["response"]["usageMetadata"]["candidatesTokenCount"] == 3


def test_refusal_is_a_safety_stop_without_content(gclient: httpx.Client, gemu: Emulator) -> None:
    (item,) = inlined(_run(gclient, gemu, inline("a", "Name a city [[emulate:refusal]]")))
    candidate = item["response"]["candidates"][0]
    assert candidate["finishReason"] == "SAFETY" and "content" not in candidate
    assert candidate["safetyRatings"][0]["blocked"] is True
    assert "candidatesTokenCount" not in item["response"]["usageMetadata"]


@pytest.mark.parametrize(
    "config",
    [
        {"responseMimeType": "application/json", "responseJsonSchema": CITY},
        {
            "responseMimeType": "application/json",
            "responseSchema": {
                "type": "OBJECT",
                "properties": {"city": {"type": "STRING"}},
                "required": ["city"],
            },
        },
    ],
)
def test_structured_answer_follows_the_schema(
    gclient: httpx.Client, gemu: Emulator, config: dict[str, Any]
) -> None:
    (item,) = inlined(_run(gclient, gemu, inline("a", "Name a city", **config)))
    answer = orjson.loads(text_of(item))
    assert set(answer) == {"city"} and isinstance(answer["city"], str)


def test_hooks_set_usage_and_thoughts() -> None:
    def content(request: dict[str, Any]) -> list[dict[str, Any]]:
        assert request["contents"][0]["parts"][0]["text"] == "Hi"
        return [{"type": "thinking", "thinking": "x" * 8}, {"type": "text", "text": "Yo"}]

    def usage(request: dict[str, Any]) -> dict[str, Any]:
        return {"cachedContentTokenCount": 1}

    emu = Emulator(time_scale=0, reply_content=content, reply_usage=usage)
    with emu, httpx.Client(base_url=base_url(emu.start())) as client:
        name = create(client, inline("a", "Hi"))["name"]
        (item,) = inlined(get(client, name))
    parts = item["response"]["candidates"][0]["content"]["parts"]
    assert parts == [{"text": "x" * 8, "thought": True}, {"text": "Yo"}]
    usage_metadata = item["response"]["usageMetadata"]
    assert usage_metadata["thoughtsTokenCount"] == 2
    assert usage_metadata["cachedContentTokenCount"] == 1
    assert usage_metadata["totalTokenCount"] == 1 + 1 + 2


def test_tool_use_blocks_become_function_calls() -> None:
    def content(request: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"type": "tool_use", "id": "t", "name": "lookup", "input": {"q": "Paris"}}]

    emu = Emulator(time_scale=0, reply_content=content)
    with emu, httpx.Client(base_url=base_url(emu.start())) as client:
        name = create(client, inline("a", "Hi"))["name"]
        (item,) = inlined(get(client, name))
    candidate = item["response"]["candidates"][0]
    assert candidate["content"]["parts"] == [
        {"functionCall": {"name": "lookup", "args": {"q": "Paris"}}}
    ]
    assert candidate["finishReason"] == "STOP"
    assert item["response"]["usageMetadata"]["candidatesTokenCount"] == 4


def test_snake_case_fields_are_read_too(gclient: httpx.Client, gemu: Emulator) -> None:
    text = "Name a city [[emulate:max_tokens]]"
    request = {
        "contents": [{"parts": [{"text": text}]}],
        "generation_config": {"max_output_tokens": 2},
    }
    body = {
        "batch": {
            "display_name": "snake",
            "input_config": {"requests": {"requests": [{"request": request}]}},
        }
    }
    response = gclient.post(CREATE, json=body)
    assert response.json()["metadata"]["displayName"] == "snake"
    gemu.advance(60)
    (item,) = inlined(get(gclient, response.json()["name"]))
    assert item["response"]["usageMetadata"]["candidatesTokenCount"] == 2
