"""Shared helpers for the emulator's OpenAI tests (plain HTTP via httpx, no mocks)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson

ENDPOINT = "/v1/chat/completions"
MODEL = "gpt-4o-mini"
BATCH_ID_RE = re.compile(r"batch_[0-9a-f]{32}")
FILE_ID_RE = re.compile(r"file-[0-9A-Za-z]{22}")
LINE_ID_RE = re.compile(r"batch_req_[0-9A-Za-z]{24}")
REQUEST_ID_RE = re.compile(r"req_[0-9a-f]{32}")
BATCH_KEYS = {
    "id",
    "object",
    "endpoint",
    "model",
    "errors",
    "input_file_id",
    "completion_window",
    "status",
    "output_file_id",
    "error_file_id",
    "created_at",
    "in_progress_at",
    "expires_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
    "request_counts",
    "usage",
    "metadata",
}


def line(custom_id: str, text: str = "Hello", **body: Any) -> dict[str, Any]:
    """One input line with a valid chat-completions body, overridable per key."""
    payload: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 16,
    }
    payload.update(body)
    return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": payload}


def jsonl(entries: list[Any]) -> bytes:
    """Entries as JSONL, each line ``\\n``-terminated."""
    return b"".join(orjson.dumps(entry) + b"\n" for entry in entries)


def upload(
    client: httpx.Client, content: bytes, filename: str = "in.jsonl", purpose: str = "batch"
) -> dict[str, Any]:
    """Upload a file (multipart), asserting success."""
    response = client.post("/files", files={"file": (filename, content)}, data={"purpose": purpose})
    assert response.status_code == 200, response.text
    stored: dict[str, Any] = response.json()
    return stored


def create(client: httpx.Client, entries: list[Any] | bytes, **extra: Any) -> dict[str, Any]:
    """Upload ``entries`` and create a batch from them, asserting success."""
    content = entries if isinstance(entries, bytes) else jsonl(entries)
    file_id = upload(client, content)["id"]
    body = {"input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h"}
    body.update(extra)
    response = client.post("/batches", json=body)
    assert response.status_code == 200, response.text
    batch: dict[str, Any] = response.json()
    return batch


def retrieve(client: httpx.Client, batch_id: str) -> dict[str, Any]:
    """GET one batch, asserting success."""
    response = client.get(f"/batches/{batch_id}")
    assert response.status_code == 200, response.text
    batch: dict[str, Any] = response.json()
    return batch


def file_lines(client: httpx.Client, file_id: str | None) -> dict[str, dict[str, Any]]:
    """A JSONL file's lines keyed by custom_id (asserting the framing); ``{}`` for None."""
    if file_id is None:
        return {}
    response = client.get(f"/files/{file_id}/content")
    assert response.status_code == 200, response.text
    body = response.content
    assert body.endswith(b"\n")
    parsed = [orjson.loads(raw) for raw in body[:-1].split(b"\n")]
    by_id = {entry["custom_id"]: entry for entry in parsed}
    assert len(by_id) == len(parsed), "duplicate custom_id"
    return by_id


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of an OpenAI error response (asserting its shape)."""
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, Any] = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error
