"""Shared helpers for the emulator tests (plain HTTP via httpx, no mocks)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson

HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "test-key"}
BATCHES = "/v1/messages/batches"
BATCH_ID_RE = re.compile(r"msgbatch_[0-9A-Za-z]{24}")
REQUEST_ID_RE = re.compile(r"req_[0-9A-Za-z]{24}")
TIMESTAMP_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
BATCH_KEYS = {
    "id",
    "type",
    "processing_status",
    "request_counts",
    "ended_at",
    "created_at",
    "expires_at",
    "archived_at",
    "cancel_initiated_at",
    "results_url",
}


def request(custom_id: str, text: str = "Hello", **params: Any) -> dict[str, Any]:
    """One batch request entry with sensible valid params, overridable per key."""
    body: dict[str, Any] = {
        "model": "claude-haiku-4-5",
        "max_tokens": 16,
        "messages": [{"role": "user", "content": text}],
    }
    body.update(params)
    return {"custom_id": custom_id, "params": body}


def create(client: httpx.Client, requests: list[dict[str, Any]]) -> dict[str, Any]:
    """POST a batch and return the MessageBatch, asserting success."""
    response = client.post(BATCHES, json={"requests": requests})
    assert response.status_code == 200, response.text
    batch: dict[str, Any] = response.json()
    return batch


def create_n(client: httpx.Client, count: int, prefix: str = "r") -> dict[str, Any]:
    """Create a batch of ``count`` plain requests."""
    return create(client, [request(f"{prefix}{i}") for i in range(count)])


def retrieve(client: httpx.Client, batch_id: str) -> dict[str, Any]:
    """GET one batch, asserting success."""
    response = client.get(f"{BATCHES}/{batch_id}")
    assert response.status_code == 200, response.text
    batch: dict[str, Any] = response.json()
    return batch


def results(client: httpx.Client, batch_id: str) -> dict[str, dict[str, Any]]:
    """Fetch and parse results keyed by custom_id (asserting the JSONL framing)."""
    response = client.get(f"{BATCHES}/{batch_id}/results")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-jsonl"
    body = response.content
    assert body.endswith(b"\n")
    lines = body[:-1].split(b"\n")
    assert all(lines), "blank line in results"
    parsed = [orjson.loads(line) for line in lines]
    by_id = {line["custom_id"]: line["result"] for line in parsed}
    assert len(by_id) == len(parsed), "duplicate custom_id in results"
    return by_id


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    """``(status, error.type, error.message)`` of a JSON error response."""
    body = response.json()
    assert body["type"] == "error"
    assert body["request_id"] == response.headers["request-id"]
    return response.status_code, body["error"]["type"], body["error"]["message"]
