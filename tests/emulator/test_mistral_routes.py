"""The emulated Mistral routes over raw HTTP: what a create checks, a job that fails, the
error body, the ids."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from batchwork_prefect.emulator import Emulator

MODEL = "mistral-small-latest"
ENDPOINT = "/v1/chat/completions"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture
def memu() -> Iterator[Emulator]:
    with Emulator(time_scale=0, processing_seconds=60) as emulator:
        yield emulator


@pytest.fixture
def mclient(memu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=memu.base_url_for("mistral"), timeout=10) as http:
        yield http


def _upload(client: httpx.Client, content: bytes, purpose: str = "batch") -> str:
    answer = client.post(
        "/v1/files", files={"file": ("in.jsonl", content)}, data={"purpose": purpose}
    )
    assert answer.status_code == 200, answer.text
    file_id: str = answer.json()["id"]
    return file_id


def _create(client: httpx.Client, **body: Any) -> httpx.Response:
    return client.post("/v1/batch/jobs", json={"endpoint": ENDPOINT, "model": MODEL, **body})


def test_ids_are_uuids_and_errors_are_mistral_shaped(mclient: httpx.Client) -> None:
    file_id = _upload(
        mclient, b'{"custom_id": "a", "body": {"messages": [{"role": "user", "content": "hi"}]}}\n'
    )
    job = _create(mclient, input_files=[file_id]).json()
    assert UUID.fullmatch(file_id) and UUID.fullmatch(job["id"])
    missing = mclient.get("/v1/batch/jobs/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert set(missing.json()) == {"object", "message", "type", "param", "code"}
    assert missing.json()["object"] == "error" and missing.headers["x-request-id"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"endpoint": "/v1/nothing"}, 422),
        ({"endpoint": "/v1/embeddings"}, 400),
        ({"metadata": {"k" * 33: "v"}}, 422),
        ({"metadata": {"k": "v" * 513}}, 422),
        ({"metadata": {"k": 1}}, 422),
        ({"timeout_hours": 0}, 422),
        ({"requests": [{"body": {}}] * 10_001}, 422),
        ({"input_files": ["not-a-uuid"]}, 422),
    ],
)
def test_a_bad_create_is_refused(mclient: httpx.Client, body: dict[str, Any], status: int) -> None:
    payload = {"requests": [{"custom_id": "a", "body": {"messages": []}}], **body}
    if "input_files" in body:
        payload.pop("requests")
    assert _create(mclient, **payload).status_code == status


def test_a_file_of_another_purpose_is_refused(mclient: httpx.Client) -> None:
    file_id = _upload(mclient, b"{}\n", purpose="fine-tune")
    assert _create(mclient, input_files=[file_id]).status_code == 400


def test_bad_lines_fail_the_job_with_counted_errors(mclient: httpx.Client, memu: Emulator) -> None:
    lines = [
        b"not json",
        b'{"custom_id": "a", "body": {"messages": []}}',
        b'{"custom_id": "a", "body": {"messages": []}}',
        b'{"body": {"messages": []}}',
    ]
    file_id = _upload(mclient, b"\n".join(lines) + b"\n")
    job = _create(mclient, input_files=[file_id]).json()
    assert job["status"] == "QUEUED"
    failed = mclient.get(f"/v1/batch/jobs/{job['id']}").json()
    assert failed["status"] == "FAILED"
    assert failed["errors"] == [
        {"message": "A request is not a JSON object.", "count": 1},
        {"message": "A custom_id is used by more than one request.", "count": 1},
        {"message": "A request has no custom_id.", "count": 1},
    ]
    assert (failed["total_requests"], failed["output_file"], failed["error_file"]) == (
        0,
        None,
        None,
    )


def test_a_job_past_its_timeout_is_timeout_exceeded(memu: Emulator) -> None:
    with (
        Emulator(time_scale=0, processing_seconds=90_000) as slow,
        httpx.Client(base_url=slow.base_url_for("mistral"), timeout=10) as client,
    ):
        body = {"custom_id": "a", "body": {"messages": [{"role": "user", "content": "hi"}]}}
        job = _create(client, requests=[body]).json()
        slow.advance(86_400)
        ended = client.get(f"/v1/batch/jobs/{job['id']}").json()
    assert (ended["status"], ended["succeeded_requests"], ended["output_file"]) == (
        "TIMEOUT_EXCEEDED",
        0,
        None,
    )


def test_the_job_model_goes_into_each_answer(mclient: httpx.Client, memu: Emulator) -> None:
    body = {"custom_id": "a", "body": {"messages": [{"role": "user", "content": "hi"}]}}
    job = _create(mclient, requests=[body]).json()
    memu.advance(60)
    done = mclient.get(f"/v1/batch/jobs/{job['id']}").json()
    line = orjson.loads(mclient.get(f"/v1/files/{done['output_file']}/content").content)
    assert line["response"]["body"]["model"] == MODEL
    assert line["id"].startswith("batch-") and line["error"] is None


def test_bad_bodies_are_400_lines_in_the_error_file(mclient: httpx.Client, memu: Emulator) -> None:
    requests = [
        {"custom_id": "empty", "body": {"messages": []}},
        {
            "custom_id": "neg",
            "body": {"messages": [{"role": "user", "content": "x"}], "max_tokens": -1},
        },
    ]
    job = _create(mclient, requests=requests).json()
    memu.advance(60)
    done = mclient.get(f"/v1/batch/jobs/{job['id']}").json()
    assert (done["succeeded_requests"], done["failed_requests"], done["output_file"]) == (
        0,
        2,
        None,
    )
    content = mclient.get(f"/v1/files/{done['error_file']}/content").content
    lines = sorted(
        (orjson.loads(line) for line in content.splitlines()), key=lambda x: x["custom_id"]
    )
    assert [(line["custom_id"], line["response"]["status_code"]) for line in lines] == [
        ("empty", 400),
        ("neg", 400),
    ]
    error_file = mclient.get(f"/v1/files/{done['error_file']}").json()
    assert (error_file["sample_type"], error_file["source"]) == ("batch_error", "mistral")


def test_files_list_by_purpose_and_submissions_are_counted(
    mclient: httpx.Client, memu: Emulator
) -> None:
    batch_file = _upload(
        mclient, b'{"custom_id": "a", "body": {"messages": [{"role": "user", "content": "x"}]}}\n'
    )
    _upload(mclient, b"{}\n", purpose="fine-tune")
    listed = mclient.get("/v1/files", params={"purpose": "batch"}).json()
    assert [item["id"] for item in listed["data"]] == [batch_file] and listed["total"] == 1
    for _ in range(2):
        _create(mclient, input_files=[batch_file])
    assert memu.submissions("a", api="mistral") == 2


def test_a_missing_or_wrong_key_is_a_401_unauthorized() -> None:
    with (
        Emulator(api_key="right") as emu,
        httpx.Client(base_url=emu.base_url_for("mistral"), timeout=10) as client,
    ):
        missing = client.get("/v1/batch/jobs")
        wrong = client.get("/v1/batch/jobs", headers={"authorization": "Bearer wrong"})
    for answer in (missing, wrong):
        assert answer.status_code == 401 and answer.json()["message"] == "Unauthorized"
