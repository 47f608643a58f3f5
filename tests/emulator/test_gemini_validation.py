"""What the Gemini create and file routes refuse at once, in Google's error shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator.gemini_helpers import CREATE, base_url, create_body, inline, upload


@pytest.fixture
def gemu() -> Iterator[Emulator]:
    with Emulator(time_scale=0) as emu:
        yield emu


@pytest.fixture
def gclient(gemu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url(gemu)) as http:
        yield http


def _refused(response: httpx.Response, code: int, status: str) -> str:
    assert response.status_code == code, response.text
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (code, status)
    message: str = error["message"]
    return message


def test_unknown_model_is_404(gclient: httpx.Client, gemu: Emulator) -> None:
    response = gclient.post(
        "/v1beta/models/gpt-4o:batchGenerateContent", json=create_body(inline("a", "Hi"))
    )
    assert "models/gpt-4o is not found" in _refused(response, 404, "NOT_FOUND")
    assert gemu.batches_created == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "batch"),
        ({"batch": {"displayName": "x"}}, "inputConfig"),
        ({"batch": {"inputConfig": {}}}, "inputConfig"),
        (
            {"batch": {"inputConfig": {"fileName": "files/x", "requests": {"requests": []}}}},
            "inputConfig",
        ),
        ({"batch": {"inputConfig": {"requests": {"requests": []}}}}, "requests"),
        (create_body({"request": {"contents": []}, "metadata": {"key": "a"}}), "contents"),
        ({"batch": {"inputConfig": {"fileName": "x.jsonl"}}}, "fileName"),
    ],
)
def test_bad_create_bodies_are_400(
    gclient: httpx.Client, gemu: Emulator, body: dict[str, Any], field: str
) -> None:
    assert field in _refused(gclient.post(CREATE, json=body), 400, "INVALID_ARGUMENT")
    assert gemu.batches_created == 0


def test_a_file_that_is_not_there_is_404(gclient: httpx.Client) -> None:
    body = {"batch": {"inputConfig": {"fileName": "files/missing"}}}
    assert "files/missing" in _refused(gclient.post(CREATE, json=body), 404, "NOT_FOUND")


def test_an_empty_file_is_400(gclient: httpx.Client) -> None:
    name = upload(gclient, b"\n")
    body = {"batch": {"inputConfig": {"fileName": name}}}
    assert "empty" in _refused(gclient.post(CREATE, json=body), 400, "INVALID_ARGUMENT")


def test_inline_body_past_20_mb_is_400(gclient: httpx.Client, gemu: Emulator) -> None:
    big = create_body(inline("a", "x" * (20 * 1024 * 1024)))
    message = _refused(gclient.post(CREATE, json=big), 400, "INVALID_ARGUMENT")
    assert message == "Request payload size exceeds the limit: 20971520 bytes."
    assert gemu.batches_created == 0


def test_upload_past_2_gb_is_400(gclient: httpx.Client) -> None:
    response = gclient.post(
        "/upload/v1beta/files",
        headers={
            "x-goog-upload-protocol": "resumable",
            "x-goog-upload-command": "start",
            "x-goog-upload-header-content-length": str(2 * 1024**3 + 1),
        },
    )
    _refused(response, 400, "INVALID_ARGUMENT")


def test_unknown_path_under_gemini_is_google_404(gclient: httpx.Client) -> None:
    _refused(gclient.get("/v1beta/nothing"), 404, "NOT_FOUND")
