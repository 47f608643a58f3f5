"""Shared helpers for the Gemini emulator tests (plain HTTP via httpx, no mocks)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from batchwork_prefect.emulator import Emulator

KEY = "gemini-test-key"
MODEL = "gemini-2.5-flash"
CREATE = f"/v1beta/models/{MODEL}:batchGenerateContent"


def base_url(emu: Emulator) -> str:
    """The base URL a google-genai client of ``emu`` takes."""
    return emu.base_url_for("gemini")


def contents(text: str) -> list[dict[str, Any]]:
    """One user turn of ``text``."""
    return [{"role": "user", "parts": [{"text": text}]}]


def inline(key: str, text: str, **config: Any) -> dict[str, Any]:
    """One inline request entry, ``config`` as its ``generationConfig``."""
    request: dict[str, Any] = {"contents": contents(text)}
    if config:
        request["generationConfig"] = config
    return {"request": request, "metadata": {"key": key}}


def create_body(*entries: dict[str, Any], name: str = "test-batch") -> dict[str, Any]:
    """A ``batchGenerateContent`` body of inline ``entries``."""
    return {
        "batch": {"displayName": name, "inputConfig": {"requests": {"requests": list(entries)}}}
    }


def create(client: httpx.Client, *entries: dict[str, Any]) -> dict[str, Any]:
    """Create an inline batch; returns the Operation."""
    response = client.post(CREATE, json=create_body(*entries))
    assert response.status_code == 200, response.text
    operation: dict[str, Any] = response.json()
    return operation


def get(client: httpx.Client, name: str) -> dict[str, Any]:
    """The Operation of ``name`` (``batches/...``)."""
    response = client.get(f"/v1beta/{name}")
    assert response.status_code == 200, response.text
    operation: dict[str, Any] = response.json()
    return operation


def inlined(operation: dict[str, Any]) -> list[dict[str, Any]]:
    """The inline responses of an ended Operation."""
    items: list[dict[str, Any]] = operation["metadata"]["output"]["inlinedResponses"][
        "inlinedResponses"
    ]
    return items


def text_of(item: dict[str, Any]) -> str:
    """The text of an inline response's first candidate."""
    parts = item["response"]["candidates"][0]["content"]["parts"]
    return "".join(part["text"] for part in parts if not part.get("thought"))


def upload(client: httpx.Client, content: bytes, mime: str = "application/jsonl") -> str:
    """Upload ``content`` with the resumable protocol; returns the file's name."""
    start = client.post(
        "/upload/v1beta/files",
        headers={
            "x-goog-upload-protocol": "resumable",
            "x-goog-upload-command": "start",
            "x-goog-upload-header-content-length": str(len(content)),
            "x-goog-upload-header-content-type": mime,
        },
        json={"file": {"displayName": "input"}},
    )
    assert start.status_code == 200, start.text
    done = httpx.post(
        start.headers["x-goog-upload-url"],
        headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"},
        content=content,
    )
    assert done.headers["x-goog-upload-status"] == "final", done.text
    name: str = done.json()["file"]["name"]
    return name


def jsonl(*lines: dict[str, Any]) -> bytes:
    """JSONL of ``lines``."""
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)
