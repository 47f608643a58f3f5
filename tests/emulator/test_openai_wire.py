"""OpenAI wire conventions: auth, error bodies, request ids, unknown paths, faults, calls."""

from __future__ import annotations

import httpx
import pytest

from batchwork_prefect.emulator import Emulator, Fault
from tests.emulator.openai_helpers import ENDPOINT, REQUEST_ID_RE, create, error_of, line, upload

MISSING_KEY_START = "You didn't provide an API key."


@pytest.fixture
def keyed() -> Emulator:
    return Emulator(time_scale=0, api_key="sk-proj-abcdefghijklmnop")


def test_auth_bearer(keyed: Emulator) -> None:
    with keyed, httpx.Client(base_url=keyed.openai_base_url) as http:
        missing = http.get("/batches")
        assert missing.status_code == 401
        error = error_of(missing)
        assert error["message"].startswith(MISSING_KEY_START)
        assert (error["type"], error["code"]) == ("invalid_request_error", None)
        wrong = http.get("/batches", headers={"authorization": "Bearer sk-proj-zyxwvutsrqpo1234"})
        assert wrong.status_code == 401
        assert error_of(wrong) == {
            "message": "Incorrect API key provided: sk-proj-************1234. You can find your API"
            " key at https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
        short = http.get("/batches", headers={"authorization": "Bearer test"})
        assert error_of(short)["message"].startswith("Incorrect API key provided: test. ")
        right = http.get("/batches", headers={"authorization": "Bearer sk-proj-abcdefghijklmnop"})
        assert right.status_code == 200
        assert keyed.calls["openai.batches.list"] == 4


def test_no_key_needed_without_api_key_and_no_anthropic_version(oclient: httpx.Client) -> None:
    assert oclient.get("/batches").status_code == 200


def test_request_id_header(oclient: httpx.Client) -> None:
    for response in (oclient.get("/batches"), oclient.get("/batches/batch_nope")):
        assert REQUEST_ID_RE.fullmatch(response.headers["x-request-id"])
        assert "request-id" not in response.headers


def test_not_found_shapes(oclient: httpx.Client) -> None:
    missing = oclient.get("/batches/batch_nope")
    assert missing.status_code == 404
    assert error_of(missing)["type"] == "invalid_request_error"
    unknown = oclient.get("/batches/batch_nope/results")
    assert unknown.status_code == 404
    assert error_of(unknown)["message"] == "Invalid URL (GET /v1/batches/batch_nope/results)"


@pytest.mark.parametrize(
    ("status", "error_type", "code"),
    [
        (400, "invalid_request_error", None),
        (429, "requests", "rate_limit_exceeded"),
        (500, "server_error", None),
        (503, "server_error", None),
    ],
)
def test_fault_bodies_are_openai_shaped(
    oemu: Emulator, oclient: httpx.Client, status: int, error_type: str, code: str | None
) -> None:
    oemu.add_fault(Fault(route="openai.batches.list", status=status, retry_after=2))
    faulted = oclient.get("/batches")
    assert faulted.status_code == status
    assert faulted.headers["retry-after"] == "2"
    error = error_of(faulted)
    assert (error["type"], error["code"]) == (error_type, code)
    assert oclient.get("/batches").status_code == 200


def test_after_create_fault_stores_the_batch(oemu: Emulator, oclient: httpx.Client) -> None:
    file_id = upload(oclient, b'{"custom_id": "a"}\n')["id"]
    oemu.add_fault(Fault(route="openai.batches.create", status=500, after_create=True))
    body = {"input_file_id": file_id, "endpoint": ENDPOINT, "completion_window": "24h"}
    assert oclient.post("/batches", json=body).status_code == 500
    assert len(oclient.get("/batches").json()["data"]) == 1


def test_after_create_fault_on_upload_stores_the_file(
    oemu: Emulator, oclient: httpx.Client
) -> None:
    files = oemu._app.handlers["openai"].files  # type: ignore[attr-defined]
    oemu.add_fault(Fault(route="openai.files.create", status=503, after_create=True))
    response = oclient.post("/files", files={"file": ("a.jsonl", b"{}")}, data={"purpose": "batch"})
    assert response.status_code == 503
    assert oemu.calls["openai.files.create"] == 1
    assert len(files._by_id) == 1
    oemu.add_fault(Fault(route="openai.files.create", status=503))
    response = oclient.post("/files", files={"file": ("a.jsonl", b"{}")}, data={"purpose": "batch"})
    assert response.status_code == 503
    assert len(files._by_id) == 1


def test_truncated_file_content(oemu: Emulator, oclient: httpx.Client) -> None:
    file_id = upload(oclient, b"x" * 1000)["id"]
    oemu.add_fault(Fault(route="openai.files.content", truncate_after_bytes=10))
    with pytest.raises(httpx.RemoteProtocolError):
        oclient.get(f"/files/{file_id}/content")
    assert oclient.get(f"/files/{file_id}/content").content == b"x" * 1000


def test_after_create_is_refused_on_other_routes() -> None:
    with pytest.raises(ValueError, match="after_create"):
        Fault(route="openai.batches.retrieve", after_create=True)


def test_call_counts_per_openai_route(oemu: Emulator, oclient: httpx.Client) -> None:
    batch = create(oclient, [line("a")])
    oclient.get(f"/batches/{batch['id']}")
    oclient.get("/batches")
    oclient.post(f"/batches/{batch['id']}/cancel")
    oclient.get(f"/files/{batch['input_file_id']}")
    oclient.get(f"/files/{batch['input_file_id']}/content")
    oclient.delete(f"/files/{batch['input_file_id']}")
    oclient.get("/nothing")
    assert dict(oemu.calls) == {
        "openai.files.create": 1,
        "openai.batches.create": 1,
        "openai.batches.retrieve": 1,
        "openai.batches.list": 1,
        "openai.batches.cancel": 1,
        "openai.files.retrieve": 1,
        "openai.files.content": 1,
        "openai.files.delete": 1,
        "unknown": 1,
    }
