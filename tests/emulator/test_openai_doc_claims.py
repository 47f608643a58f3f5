"""The emulator's OpenAI side as docs/emulator.md and docs/providers.md describe it, where no other
test pins the sentence: base URL, unknown paths, key echoes, request ids, model prefixes,
per-batch settings, usage, reply hooks, file shapes, and faults from the command line."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.emulator._fault_text import parse_fault
from tests.emulator.emulator_helpers import BATCHES, HEADERS
from tests.emulator.openai_helpers import (
    ENDPOINT,
    REQUEST_ID_RE,
    create,
    error_of,
    file_lines,
    jsonl,
    line,
    retrieve,
    upload,
)

THIRTY_DAYS = 30 * 86_400
ZERO_USAGE = {
    "input_tokens": 0,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 0,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 0,
}


def _finish(oemu: Emulator, client: httpx.Client, entries: list[Any]) -> dict[str, Any]:
    batch = create(client, entries)
    oemu.advance(60)
    done = retrieve(client, batch["id"])
    assert done["status"] == "completed"
    return done


def test_the_openai_base_url_is_the_base_url_with_v1_on_the_same_server(oemu: Emulator) -> None:
    assert oemu.openai_base_url == oemu.base_url + "/v1"
    with httpx.Client(base_url=oemu.base_url) as http:
        assert http.get("/v1/batches").json()["object"] == "list"
        assert http.get(BATCHES, headers=HEADERS).status_code == 200
    assert oemu.calls["openai.batches.list"] == 1 and oemu.calls["list"] == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/files"),
        ("POST", "/files/file-x"),
        ("GET", "/files/file-x/extra"),
        ("PUT", "/batches"),
        ("DELETE", "/batches/batch_x"),
        ("GET", "/batches/batch_x/cancel"),
    ],
)
def test_other_paths_under_files_and_batches_are_invalid_urls(
    oclient: httpx.Client, method: str, path: str
) -> None:
    response = oclient.request(method, path)
    assert response.status_code == 404
    assert error_of(response)["message"] == f"Invalid URL ({method} /v1{path})"


@pytest.mark.parametrize(
    ("wrong", "echoed"),
    [("abcdefghijkl", "abcdefghijkl"), ("abcdefghijklm", "abcdefgh*jklm")],
)
def test_a_wrong_key_is_echoed_whole_up_to_12_characters_and_masked_beyond(
    wrong: str, echoed: str
) -> None:
    with (
        Emulator(time_scale=0, api_key="sk-right-key-0123") as emu,
        httpx.Client(base_url=emu.openai_base_url) as http,
    ):
        response = http.get("/batches", headers={"authorization": f"Bearer {wrong}"})
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "invalid_api_key"
    assert error["message"].startswith(f"Incorrect API key provided: {echoed}. ")


def test_every_openai_response_carries_an_x_request_id(oemu: Emulator) -> None:
    oemu.add_fault(Fault(route="openai.batches.list", status=503))
    with (
        Emulator(time_scale=0, api_key="sk-right-key-0123") as keyed,
        httpx.Client(base_url=keyed.openai_base_url) as unauthorized,
        httpx.Client(base_url=oemu.openai_base_url) as http,
    ):
        uploaded = http.post(
            "/files", files={"file": ("a.jsonl", b"{}\n")}, data={"purpose": "batch"}
        )
        responses = [
            uploaded,
            http.get(f"/files/{uploaded.json()['id']}/content"),
            http.get("/batches"),  # the fault's answer
            http.get("/files/file-x/extra"),
            unauthorized.get("/batches"),
        ]
    assert [r.status_code for r in responses] == [200, 200, 503, 404, 401]
    for response in responses:
        assert REQUEST_ID_RE.fullmatch(response.headers["x-request-id"])
        assert "request-id" not in response.headers


@pytest.mark.parametrize(
    ("files", "data", "param"),
    [
        ({"other": ("x.txt", b"x")}, {"purpose": "batch"}, "file"),
        ({"file": ("a.jsonl", b"{}")}, {}, "purpose"),
    ],
)
def test_a_missing_file_or_purpose_is_missing_required_parameter(
    oclient: httpx.Client, files: dict[str, Any], data: dict[str, str], param: str
) -> None:
    response = oclient.post("/files", files=files, data=data)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["param"]) == ("missing_required_parameter", param)


@pytest.mark.parametrize(
    "model",
    ["gpt-4o-mini", "chatgpt-4o-latest", "o1-mini", "o3", "o4-mini", "ft:gpt-4o-mini:org::abc"],
)
def test_each_documented_model_prefix_is_accepted(oclient: httpx.Client, model: str) -> None:
    batch = create(oclient, [line("a", model=model)])
    seen = retrieve(oclient, batch["id"])
    assert (seen["status"], seen["model"], seen["errors"]) == ("in_progress", model, None)


def test_a_line_with_several_problems_is_reported_once(oclient: httpx.Client) -> None:
    entry = line("a", model="claude-haiku-4-5")
    entry["method"] = "GET"
    del entry["custom_id"]
    batch = create(oclient, jsonl([entry]))
    errors = retrieve(oclient, batch["id"])["errors"]["data"]
    assert [(item["line"], item["code"], item["param"]) for item in errors] == [
        (1, "missing_required_parameter", "custom_id")
    ]


def test_finalizing_seconds_is_captured_when_the_batch_is_created(oemu: Emulator) -> None:
    oemu.settings.finalizing_seconds = 10
    with httpx.Client(base_url=oemu.openai_base_url) as http:
        batch = create(http, [line("a")])
        oemu.settings.finalizing_seconds = 0  # later batches only
        oemu.advance(65)
        assert retrieve(http, batch["id"])["status"] == "finalizing"
        oemu.advance(5)
        assert retrieve(http, batch["id"])["status"] == "completed"


def test_batch_usage_is_zero_until_the_files_are_written(oemu: Emulator) -> None:
    oemu.settings.finalizing_seconds = 10
    with httpx.Client(base_url=oemu.openai_base_url) as http:
        batch = create(http, [line("a", "Capital of France? One word.")])
        oemu.advance(30)
        assert retrieve(http, batch["id"])["usage"] == ZERO_USAGE
        oemu.advance(35)
        finalizing = retrieve(http, batch["id"])
        assert finalizing["status"] == "finalizing"
        assert finalizing["usage"] == ZERO_USAGE
        oemu.advance(5)
        done = retrieve(http, batch["id"])
    assert done["status"] == "completed"
    assert done["usage"]["input_tokens"] > 0 and done["usage"]["total_tokens"] > 0


def _usage(oemu: Emulator, client: httpx.Client) -> dict[str, Any]:
    done = _finish(oemu, client, [line("a")])
    usage: dict[str, Any] = file_lines(client, done["output_file_id"])["a"]["response"]["body"][
        "usage"
    ]
    return usage


def test_reply_usage_total_is_recomputed_unless_given(
    oemu: Emulator, oclient: httpx.Client
) -> None:
    oemu.settings.reply_usage = lambda body: {"prompt_tokens": 100, "completion_tokens": 20}
    assert _usage(oemu, oclient)["total_tokens"] == 120
    oemu.settings.reply_usage = lambda body: {"prompt_tokens": 100, "total_tokens": 7}
    assert _usage(oemu, oclient)["total_tokens"] == 7


def test_thinking_text_counts_as_reasoning_and_completion_tokens(
    oemu: Emulator, oclient: httpx.Client
) -> None:
    oemu.settings.reply_content = lambda body: [{"type": "text", "text": "Paris"}]
    plain = _usage(oemu, oclient)
    oemu.settings.reply_content = lambda body: [
        {"type": "thinking", "thinking": "t" * 40},
        {"type": "text", "text": "Paris"},
    ]
    thought = _usage(oemu, oclient)
    assert thought["completion_tokens_details"]["reasoning_tokens"] == 10
    assert thought["completion_tokens"] == plain["completion_tokens"] + 10
    assert thought["total_tokens"] == thought["prompt_tokens"] + thought["completion_tokens"]


@pytest.mark.parametrize(
    ("limits", "code", "param"),
    [
        (
            {"max_tokens": None, "max_completion_tokens": 0},
            "integer_below_min_value",
            "max_completion_tokens",
        ),
        ({"max_tokens": "9"}, "invalid_type", "max_tokens"),
        ({"max_tokens": 1.5}, "invalid_type", "max_tokens"),
        ({"messages": "hi"}, "invalid_type", "messages"),
        ({"messages": {"a": 1}}, "invalid_type", "messages"),
        ({"messages": []}, "empty_array", "messages"),
    ],
)
def test_a_bad_token_limit_or_bad_messages_get_a_400_line(
    oemu: Emulator, oclient: httpx.Client, limits: dict[str, Any], code: str, param: str
) -> None:
    done = _finish(oemu, oclient, [line("a", **limits)])
    response = file_lines(oclient, done["error_file_id"])["a"]["response"]
    assert response["status_code"] == 400
    error = response["body"]["error"]
    assert (error["code"], error["param"]) == (code, param)


def test_the_error_file_is_a_batch_output_file_and_lines_are_compact(
    oemu: Emulator, oclient: httpx.Client
) -> None:
    done = _finish(oemu, oclient, [line("ok"), line("bad", "x [[emulate:errored]]")])
    error_file = oclient.get(f"/files/{done['error_file_id']}").json()
    assert error_file["purpose"] == "batch_output"
    assert error_file["expires_at"] == error_file["created_at"] + THIRTY_DAYS
    for file_id in (done["output_file_id"], done["error_file_id"]):
        content = oclient.get(f"/files/{file_id}/content").content
        assert content.endswith(b"\n") and b"\n\n" not in content
        for raw in content[:-1].split(b"\n"):
            assert raw == orjson.dumps(orjson.loads(raw))


def test_the_command_line_queues_faults_on_openai_routes(oemu: Emulator) -> None:
    fault = parse_fault("openai.batches.create:503:2")
    assert fault == Fault(route="openai.batches.create", status=503, times=2)
    oemu.add_fault(fault)
    with httpx.Client(base_url=oemu.openai_base_url) as http:
        file_id = upload(http, jsonl([line("a")]))["id"]
        body = {"input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h"}
        answers = [http.post("/batches", json=body).status_code for _ in range(3)]
    assert answers == [503, 503, 200]
    assert parse_fault("openai.files.create:429").route == "openai.files.create"
