"""OpenAI files: upload (multipart), retrieve, content, delete, and the upload checks."""

from __future__ import annotations

import httpx
import pytest

from batchwork_prefect.emulator import Emulator
from batchwork_prefect.emulator.openai import _params
from tests.emulator.openai_helpers import FILE_ID_RE, error_of, upload

THIRTY_DAYS = 30 * 86_400


def test_upload_retrieve_content_delete(oemu: Emulator, oclient: httpx.Client) -> None:
    content = b'{"a": 1}\n'
    stored = upload(oclient, content, filename="mine.jsonl")
    assert FILE_ID_RE.fullmatch(stored["id"])
    assert stored == {
        "id": stored["id"],
        "object": "file",
        "bytes": len(content),
        "created_at": stored["created_at"],
        "expires_at": stored["created_at"] + THIRTY_DAYS,
        "filename": "mine.jsonl",
        "purpose": "batch",
        "status": "processed",
        "status_details": None,
    }
    assert isinstance(stored["created_at"], int)
    assert oclient.get(f"/files/{stored['id']}").json() == stored
    body = oclient.get(f"/files/{stored['id']}/content")
    assert body.content == content
    assert body.headers["content-type"] == "application/octet-stream"
    deleted = oclient.delete(f"/files/{stored['id']}")
    assert deleted.json() == {"id": stored["id"], "object": "file", "deleted": True}
    for gone in (oclient.get(f"/files/{stored['id']}"), oclient.delete(f"/files/{stored['id']}")):
        assert gone.status_code == 404
        assert error_of(gone)["message"] == f"No such File object: {stored['id']}"
    assert oclient.get(f"/files/{stored['id']}/content").status_code == 404


def test_other_purposes_keep_no_expiry(oclient: httpx.Client) -> None:
    stored = upload(oclient, b"notes", filename="notes.txt", purpose="user_data")
    assert (stored["purpose"], stored["expires_at"]) == ("user_data", None)


def test_created_at_follows_the_emulated_clock(oemu: Emulator, oclient: httpx.Client) -> None:
    first = upload(oclient, b"{}\n")["created_at"]
    oemu.advance(3600)
    assert upload(oclient, b"{}\n")["created_at"] == first + 3600


@pytest.mark.parametrize(
    ("files", "data", "message", "param"),
    [
        (None, {"purpose": "batch"}, "Missing required parameter: 'file'.", "file"),
        ({"file": ("a.jsonl", b"{}")}, {}, "Missing required parameter: 'purpose'.", "purpose"),
        (
            {"file": ("a.jsonl", b"{}")},
            {"purpose": "training"},
            "Invalid value: 'training'. Supported values are: 'assistants', 'batch',"
            " 'fine-tune', 'vision', 'user_data', and 'evals'.",
            "purpose",
        ),
        (
            {"file": ("a.csv", b"{}")},
            {"purpose": "batch"},
            "Invalid file format for Batch API. Must be .jsonl",
            None,
        ),
    ],
)
def test_upload_checks(
    oclient: httpx.Client,
    files: dict[str, tuple[str, bytes]] | None,
    data: dict[str, str],
    message: str,
    param: str | None,
) -> None:
    form_files = files or {"other": ("x.txt", b"x")}
    response = oclient.post("/files", files=form_files, data=data)
    assert response.status_code == 400
    error = error_of(response)
    assert (error["message"], error["param"], error["type"]) == (
        message,
        param,
        "invalid_request_error",
    )


def test_upload_needs_multipart(oclient: httpx.Client) -> None:
    response = oclient.post("/files", json={"purpose": "batch"})
    assert response.status_code == 400
    assert "multipart/form-data" in error_of(response)["message"]


def test_batch_files_over_the_limit_are_refused(
    oclient: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_params, "MAX_BATCH_FILE_BYTES", 10)
    response = oclient.post(
        "/files", files={"file": ("big.jsonl", b"x" * 11)}, data={"purpose": "batch"}
    )
    assert response.status_code == 400
    assert error_of(response)["param"] == "file"
    assert upload(oclient, b"x" * 10)["bytes"] == 10
    assert _params.MAX_BATCH_FILE_BYTES == 10


def test_default_limit_is_200_mb() -> None:
    assert _params.MAX_BATCH_FILE_BYTES == 200 * 1024 * 1024
