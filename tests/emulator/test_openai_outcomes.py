"""OpenAI output and error files: lines, markers, per-request errors, hooks, usage, order."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator.openai_helpers import (
    LINE_ID_RE,
    MODEL,
    create,
    file_lines,
    line,
    retrieve,
)


def _finish(oemu: Emulator, client: httpx.Client, entries: list[Any]) -> dict[str, Any]:
    batch = create(client, entries)
    oemu.advance(60)
    return retrieve(client, batch["id"])


def test_output_line_shape(oemu: Emulator, oclient: httpx.Client) -> None:
    done = _finish(oemu, oclient, [line("a", "Capital of France? One word.")])
    entry = file_lines(oclient, done["output_file_id"])["a"]
    assert LINE_ID_RE.fullmatch(entry["id"])
    assert entry["error"] is None
    response = entry["response"]
    assert response["status_code"] == 200
    assert len(response["request_id"]) == 32
    body = response["body"]
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert (body["model"], body["created"]) == (MODEL, done["completed_at"])
    choice = body["choices"][0]
    assert choice["message"]["content"] == "Paris"
    assert (choice["message"]["role"], choice["finish_reason"]) == ("assistant", "stop")
    assert body["usage"] == {
        "prompt_tokens": 7,
        "completion_tokens": 2,
        "total_tokens": 9,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    output = oclient.get(f"/files/{done['output_file_id']}").json()
    assert (output["purpose"], output["filename"]) == ("batch_output", f"{done['id']}_output.jsonl")
    assert output["created_at"] == done["completed_at"]
    assert output["expires_at"] == output["created_at"] + 30 * 86_400
    assert done["usage"] == {
        "input_tokens": 7,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 9,
    }


def test_markers_and_request_errors_go_to_the_error_file(
    oemu: Emulator, oclient: httpx.Client
) -> None:
    entries = [
        line("ok"),
        line("boom", "x [[emulate:errored]]"),
        line("busy", "x [[emulate:errored:rate_limit_error]]"),
        line("gone", "x [[emulate:expired]]"),
        line("stop", "x [[emulate:canceled]]"),
        line("zero", max_tokens=0),
        line("typed", max_tokens=None, max_completion_tokens="9"),
        line("none", messages=[]),
    ]
    done = _finish(oemu, oclient, entries)
    assert done["status"] == "completed"
    assert done["request_counts"] == {"total": 8, "completed": 1, "failed": 7}
    assert list(file_lines(oclient, done["output_file_id"])) == ["ok"]
    errors = file_lines(oclient, done["error_file_id"])
    assert set(errors) == {"boom", "busy", "gone", "stop", "zero", "typed", "none"}

    def status_and_error(custom_id: str) -> tuple[int, dict[str, Any]]:
        entry = errors[custom_id]
        assert entry["error"] is None
        return entry["response"]["status_code"], entry["response"]["body"]["error"]

    assert status_and_error("boom") == (
        500,
        {
            "message": "The server had an error while processing your request. Sorry about that!",
            "type": "server_error",
            "param": None,
            "code": None,
        },
    )
    assert status_and_error("busy")[0] == 429
    assert status_and_error("busy")[1]["type"] == "rate_limit_error"
    zero = status_and_error("zero")
    assert (zero[0], zero[1]["code"], zero[1]["param"]) == (
        400,
        "integer_below_min_value",
        "max_tokens",
    )
    assert zero[1]["message"] == (
        "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0"
        " instead."
    )
    typed = status_and_error("typed")
    assert (typed[1]["code"], typed[1]["param"]) == ("invalid_type", "max_completion_tokens")
    assert status_and_error("none")[1]["code"] == "empty_array"
    assert errors["gone"]["response"] is None
    assert errors["gone"]["error"] == {
        "code": "batch_expired",
        "message": "This request could not be executed before the completion window expired.",
    }
    assert errors["stop"]["error"]["code"] == "batch_cancelled"
    error_file = oclient.get(f"/files/{done['error_file_id']}").json()
    assert error_file["filename"] == f"{done['id']}_error.jsonl"


@pytest.mark.parametrize(
    ("error_type", "status"),
    [
        ("invalid_request_error", 400),
        ("authentication_error", 401),
        ("permission_error", 403),
        ("not_found_error", 404),
        ("timeout_error", 504),
        ("overloaded_error", 503),
        ("something_else", 500),
    ],
)
def test_marker_error_statuses(
    oemu: Emulator, oclient: httpx.Client, error_type: str, status: int
) -> None:
    done = _finish(oemu, oclient, [line("a", f"[[emulate:errored:{error_type}]]")])
    entry = file_lines(oclient, done["error_file_id"])["a"]["response"]
    assert (entry["status_code"], entry["body"]["error"]["type"]) == (status, error_type)


def test_cancelled_and_expired_requests_not_done(oemu: Emulator, oclient: httpx.Client) -> None:
    oemu.settings.gradual_counts = True
    batch = create(oclient, [line(f"r{i}") for i in range(4)])
    oemu.advance(30)
    oclient.post(f"/batches/{batch['id']}/cancel")
    cancelled = retrieve(oclient, batch["id"])
    assert cancelled["status"] == "cancelled"
    assert len(file_lines(oclient, cancelled["output_file_id"])) == 2
    codes = {e["error"]["code"] for e in file_lines(oclient, cancelled["error_file_id"]).values()}
    assert codes == {"batch_cancelled"}

    oemu.settings.processing_seconds = 4 * 86_400
    late = create(oclient, [line(f"r{i}") for i in range(4)])
    oemu.advance(86_400)
    expired = retrieve(oclient, late["id"])
    assert expired["status"] == "expired"
    assert len(file_lines(oclient, expired["output_file_id"])) == 1
    lines = file_lines(oclient, expired["error_file_id"]).values()
    assert [entry["error"]["code"] for entry in lines] == ["batch_expired"] * 3


def test_no_output_file_without_successes(oemu: Emulator, oclient: httpx.Client) -> None:
    done = _finish(oemu, oclient, [line("a", "[[emulate:errored]]")])
    assert done["output_file_id"] is None
    assert list(file_lines(oclient, done["error_file_id"])) == ["a"]


def test_order_is_shuffled_by_seed() -> None:
    entries = [line(f"r{i:02d}") for i in range(40)]
    orders = []
    for _ in range(2):  # two emulators with one seed: the same order
        emu = Emulator(time_scale=0, processing_seconds=60, seed=5)
        with emu, httpx.Client(base_url=emu.openai_base_url) as http:
            done = _finish(emu, http, entries)
            orders.append(list(file_lines(http, done["output_file_id"])))
    assert sorted(orders[0]) == [f"r{i:02d}" for i in range(40)]
    assert orders[0] != sorted(orders[0])
    assert orders[0] == orders[1]


def test_reply_hooks(oclient: httpx.Client, oemu: Emulator) -> None:
    oemu.settings.reply_text = lambda body: f"to {body['model']}"
    oemu.settings.reply_usage = lambda body: {
        "prompt_tokens_details": {"cached_tokens": 3, "audio_tokens": 0}
    }
    texted = _finish(oemu, oclient, [line("a")])
    body = file_lines(oclient, texted["output_file_id"])["a"]["response"]["body"]
    assert body["choices"][0]["message"]["content"] == f"to {MODEL}"
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 3
    assert texted["usage"]["input_tokens_details"] == {"cached_tokens": 3}

    oemu.settings.reply_content = lambda body: [
        {"type": "thinking", "thinking": "t" * 40},
        {"type": "text", "text": "Let me look."},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
    ]
    tooled = _finish(oemu, oclient, [line("b")])
    body = file_lines(oclient, tooled["output_file_id"])["b"]["response"]["body"]
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me look."
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["function"] == {"name": "lookup", "arguments": orjson.dumps({"q": "x"}).decode()}
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 10
    assert tooled["usage"]["output_tokens_details"] == {"reasoning_tokens": 10}
