"""OpenAI input-file validation: a bad file fails the batch with ``errors.data``."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator.openai_helpers import create, jsonl, line, retrieve


def _failed(client: httpx.Client, content: bytes) -> list[dict[str, Any]]:
    batch = create(client, content)
    assert batch["status"] == "validating"
    seen = retrieve(client, batch["id"])
    assert seen["status"] == "failed"
    assert seen["failed_at"] == seen["created_at"]
    assert seen["in_progress_at"] is None
    assert seen["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert seen["output_file_id"] is None and seen["error_file_id"] is None
    assert seen["errors"]["object"] == "list"
    data: list[dict[str, Any]] = seen["errors"]["data"]
    assert all(set(item) == {"code", "message", "param", "line"} for item in data)
    return data


def _changed(**changes: Any) -> dict[str, Any]:
    entry = line("x")
    for key, value in changes.items():
        if key.startswith("body_"):
            target, name = entry["body"], key[5:]
        else:
            target, name = entry, key
        if value is None:
            target.pop(name)
        else:
            target[name] = value
    return entry


@pytest.mark.parametrize(
    ("entry", "code", "param"),
    [
        (_changed(custom_id=None), "missing_required_parameter", "custom_id"),
        (_changed(custom_id=7), "invalid_type", "custom_id"),
        (_changed(method=None), "missing_required_parameter", "method"),
        (_changed(method="GET"), "invalid_value", "method"),
        (_changed(url=None), "missing_required_parameter", "url"),
        (_changed(url="/v1/embeddings"), "url_mismatch", "url"),
        (_changed(body=None), "missing_required_parameter", "body"),
        (_changed(body="text"), "invalid_type", "body"),
        (_changed(body_model=None), "missing_required_parameter", "body.model"),
        (_changed(body_messages=None), "missing_required_parameter", "body.messages"),
        (_changed(body_model="claude-haiku-4-5"), "model_not_found", "body.model"),
    ],
)
def test_line_problems(oclient: httpx.Client, entry: Any, code: str, param: str) -> None:
    data = _failed(oclient, jsonl([entry]))
    assert data == [{"code": code, "message": data[0]["message"], "param": param, "line": 1}]


def test_missing_messages_message(oclient: httpx.Client) -> None:
    data = _failed(oclient, jsonl([_changed(body_messages=None)]))
    assert data[0]["message"] == "Missing required parameter: 'messages'."


def test_every_bad_line_is_reported_with_its_number(oclient: httpx.Client) -> None:
    content = b"".join(
        [
            orjson.dumps(line("a")) + b"\n",
            b"{not json\n",
            b"[1, 2]\n",
            orjson.dumps(line("b", model="gpt-4.1")) + b"\n",
            orjson.dumps(line("a")) + b"\n",
            orjson.dumps(line("c")) + b"\n",
        ]
    )
    data = _failed(oclient, content)
    assert [(item["line"], item["code"]) for item in data] == [
        (2, "invalid_json_line"),
        (3, "invalid_json_line"),
        (4, "model_mismatch"),
        (5, "duplicate_custom_id"),
    ]
    assert data[0]["message"] == "This line is not parseable as valid JSON."
    assert data[3]["message"].startswith("The custom_id for this request is a duplicate")


def test_empty_file(oclient: httpx.Client) -> None:
    data = _failed(oclient, b"")
    assert data == [
        {
            "code": "empty_file",
            "message": "The batch input file is empty.",
            "param": None,
            "line": None,
        }
    ]


def test_too_many_requests(oclient: httpx.Client) -> None:
    data = _failed(oclient, b"{}\n" * 50_001)
    assert [(item["code"], item["line"]) for item in data] == [("too_many_tasks", None)]


def test_fifty_thousand_requests_are_accepted(oemu: Emulator, oclient: httpx.Client) -> None:
    raw = orjson.dumps(line("PLACEHOLDER"))
    content = b"\n".join(raw.replace(b"PLACEHOLDER", b"r%d" % i) for i in range(50_000))
    batch = create(oclient, content)  # no trailing newline: also fine
    assert retrieve(oclient, batch["id"])["request_counts"]["total"] == 50_000


def test_a_blank_line_is_not_json(oclient: httpx.Client) -> None:
    content = orjson.dumps(line("a")) + b"\n\n" + orjson.dumps(line("b")) + b"\n"
    assert [item["line"] for item in _failed(oclient, content)] == [2]


def test_a_failed_batch_cannot_be_cancelled(oclient: httpx.Client) -> None:
    batch = create(oclient, b"")
    response = oclient.post(f"/batches/{batch['id']}/cancel")
    assert response.status_code == 409
