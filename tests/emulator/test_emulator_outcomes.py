"""Per-request outcomes: deferred validation errors, markers, replies and usage."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator.emulator_helpers import HEADERS, create, request, results

USER_FACING = {"error_visibility": "user_facing"}

DEFERRED_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("no messages", {"messages": None}, "invalid_request_error", "messages: Field required"),
    ("empty messages", {"messages": []}, "invalid_request_error", "messages: Field required"),
    (
        "stream",
        {"stream": True},
        "invalid_request_error",
        '"stream=True" is not supported in the Message Batches API',
    ),
    ("no max_tokens", {"max_tokens": None}, "invalid_request_error", "max_tokens: Field required"),
    (
        "zero max_tokens",
        {"max_tokens": 0},
        "invalid_request_error",
        "max_tokens: Input should be greater than or equal to 1",
    ),
    (
        "string max_tokens",
        {"max_tokens": "9"},
        "invalid_request_error",
        "max_tokens: Input should be a valid integer",
    ),
    ("no model", {"model": None}, "invalid_request_error", "model: Field required"),
    ("unknown model", {"model": "gpt-4o"}, "not_found_error", "model: gpt-4o"),
]


def _params(overrides: dict[str, Any]) -> dict[str, Any]:
    entry = request("bad")
    for key, value in overrides.items():
        if value is None:
            del entry["params"][key]
        else:
            entry["params"][key] = value
    return entry


@pytest.mark.parametrize(
    ("overrides", "error_type", "message"),
    [case[1:] for case in DEFERRED_CASES],
    ids=[case[0] for case in DEFERRED_CASES],
)
def test_deferred_validation_becomes_errored_line(
    client: httpx.Client, overrides: dict[str, Any], error_type: str, message: str
) -> None:
    batch = create(client, [_params(overrides), request("good")])
    assert batch["request_counts"]["processing"] == 2
    lines = results(client, batch["id"])
    assert lines["good"]["type"] == "succeeded"
    assert lines["bad"] == {
        "type": "errored",
        "error": {
            "type": "error",
            "error": {"details": USER_FACING, "type": error_type, "message": message},
            "request_id": None,
        },
    }


def test_markers_pick_outcomes(client: httpx.Client) -> None:
    batch = create(
        client,
        [
            request("err", "please [[emulate:errored]] now"),
            request("over", "x [[emulate:errored:overloaded_error]]"),
            request("exp", "[[emulate:expired]]"),
            request("can", "[[emulate:canceled]]"),
            request("ok", "plain"),
        ],
    )
    done = client.get(f"/v1/messages/batches/{batch['id']}").json()
    assert done["processing_status"] == "ended"
    assert done["request_counts"] == {
        "processing": 0,
        "succeeded": 1,
        "errored": 2,
        "canceled": 1,
        "expired": 1,
    }
    lines = results(client, batch["id"])
    assert lines["err"]["error"]["error"]["type"] == "api_error"
    assert lines["over"]["error"]["error"]["type"] == "overloaded_error"
    assert lines["over"]["error"]["request_id"].startswith("req_")
    assert lines["exp"] == {"type": "expired"}
    assert lines["can"] == {"type": "canceled"}
    assert lines["ok"]["type"] == "succeeded"


def test_marker_in_content_blocks_and_later_user_message(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "first"}]},
        {"role": "assistant", "content": "[[emulate:canceled]] (assistant text is ignored)"},
        {
            "role": "user",
            "content": [{"type": "image"}, {"type": "text", "text": "[[emulate:expired]]"}],
        },
    ]
    batch = create(client, [request("m", messages=messages)])
    assert results(client, batch["id"])["m"] == {"type": "expired"}


def test_validation_wins_over_marker(client: httpx.Client) -> None:
    batch = create(client, [request("v", "[[emulate:canceled]]", max_tokens=0)])
    assert results(client, batch["id"])["v"]["type"] == "errored"


def test_succeeded_line_is_a_full_message(client: httpx.Client) -> None:
    text = "Summarise the plot of a very long novel in exactly three sentences, please!"
    batch = create(client, [request("s", text, model="claude-sonnet-4-5", system="Be terse.")])
    message = results(client, batch["id"])["s"]["message"]
    reply = "Emulated reply to: " + text[:60]
    assert message["id"].startswith("msg_")
    assert message["type"] == "message"
    assert message["role"] == "assistant"
    assert message["model"] == "claude-sonnet-4-5"
    assert message["content"] == [{"type": "text", "text": reply}]
    assert message["stop_reason"] == "end_turn"
    assert message["stop_sequence"] is None
    usage = message["usage"]
    assert usage["input_tokens"] == -(-(len(text) + len("Be terse.")) // 4)
    assert usage["output_tokens"] == -(-len(reply) // 4)
    assert usage["cache_creation_input_tokens"] == usage["cache_read_input_tokens"] == 0
    assert usage["cache_creation"] == {
        "ephemeral_5m_input_tokens": 0,
        "ephemeral_1h_input_tokens": 0,
    }
    assert usage["service_tier"] == "batch"


def test_canned_replies_and_block_content(client: httpx.Client) -> None:
    blocks = [
        {"role": "user", "content": [{"type": "text", "text": "Capital of Japan? One word."}]}
    ]
    batch = create(
        client,
        [
            request("fr", "Capital of France? One word."),
            request("jp", messages=blocks),
            request("tiny", "x"),
        ],
    )
    lines = results(client, batch["id"])
    assert lines["fr"]["message"]["content"][0]["text"] == "Paris"
    assert lines["jp"]["message"]["content"][0]["text"] == "Tokyo"
    usage = lines["tiny"]["message"]["usage"]
    assert usage["input_tokens"] == 1


def test_reply_uses_last_user_message() -> None:
    messages = [
        {"role": "user", "content": "Capital of France? One word."},
        {"role": "assistant", "content": "Paris"},
        {"role": "user", "content": "And of Japan?"},
    ]
    with (
        Emulator(time_scale=0) as emu,
        httpx.Client(base_url=emu.base_url, headers=HEADERS) as http,
    ):
        batch = create(http, [request("m", messages=messages)])
        text = results(http, batch["id"])["m"]["message"]["content"][0]["text"]
        assert text == "Emulated reply to: And of Japan?"


def test_reply_text_override_receives_params() -> None:
    seen: list[dict[str, Any]] = []

    def reply(params: dict[str, Any]) -> str:
        seen.append(params)
        return f"{params['model']} says hi"

    with (
        Emulator(time_scale=0, reply_text=reply) as emu,
        httpx.Client(base_url=emu.base_url, headers=HEADERS) as http,
    ):
        batch = create(http, [request("a", model="claude-x", temperature=0.5)])
        message = results(http, batch["id"])["a"]["message"]
        assert message["content"][0]["text"] == "claude-x says hi"
        assert seen[0]["temperature"] == 0.5


def test_reply_content_and_usage_hooks_shape_succeeded_messages() -> None:
    blocks = [
        {"type": "thinking", "thinking": "Let me see.", "signature": "c2lnbmF0dXJl"},
        {"type": "text", "text": "First half, "},
        {"type": "tool_use", "id": "toolu_01", "name": "lookup", "input": {"q": "x"}},
        {"type": "text", "text": "second half."},
    ]
    cache = {"cache_creation_input_tokens": 7, "cache_read_input_tokens": 40}
    with (
        Emulator(time_scale=0, reply_content=lambda _: blocks, reply_usage=lambda _: cache) as emu,
        httpx.Client(base_url=emu.base_url, headers=HEADERS) as http,
    ):
        batch = create(http, [request("a"), request("e", "Hi [[emulate:expired]]")])
        lines = results(http, batch["id"])
    message = lines["a"]["message"]
    assert message["content"] == blocks
    assert message["stop_reason"] == "tool_use"
    usage = message["usage"]
    assert usage["cache_creation_input_tokens"] == 7
    assert usage["cache_read_input_tokens"] == 40
    assert usage["cache_creation"] == {
        "ephemeral_5m_input_tokens": 7,
        "ephemeral_1h_input_tokens": 0,
    }
    # thinking 11 + text 12 + 12 + the tool input's JSON ({"q":"x"}, 9) = 44 chars
    assert usage["output_tokens"] == 11
    assert usage["service_tier"] == "batch"
    assert lines["e"] == {"type": "expired"}


def test_results_cached_once_built(client: httpx.Client) -> None:
    batch = create(client, [request(f"r{i}") for i in range(5)])
    first = client.get(f"/v1/messages/batches/{batch['id']}/results").content
    second = client.get(f"/v1/messages/batches/{batch['id']}/results").content
    assert first == second
