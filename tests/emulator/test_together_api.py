"""The emulated Together Files and Batches APIs over plain HTTP: the upload of the API
reference, the batch timeline in Together's statuses and progress, the output and error
files, and the error bodies."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from batchwork_prefect.emulator import Emulator

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
JOB_KEYS = {
    "id",
    "user_id",
    "input_file_id",
    "file_size_bytes",
    "status",
    "job_deadline",
    "created_at",
    "endpoint",
    "progress",
    "model_id",
    "output_file_id",
    "error_file_id",
    "error",
    "completed_at",
}


@pytest.fixture
def temu() -> Iterator[Emulator]:
    with Emulator(time_scale=0, processing_seconds=100, gradual_counts=True) as emu:
        yield emu


@pytest.fixture
def tclient(temu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=temu.base_url_for("together"), timeout=10) as http:
        yield http


def _content(*prompts: str) -> bytes:
    return b"".join(
        orjson.dumps(
            {
                "custom_id": f"q{index}",
                "body": {"model": MODEL, "messages": [{"role": "user", "content": prompt}]},
            }
        )
        + b"\n"
        for index, prompt in enumerate(prompts)
    )


def _upload(client: httpx.Client, content: bytes, purpose: str = "batch-api") -> dict[str, Any]:
    response = client.post(
        "/v1/files/upload",
        data={"purpose": purpose, "file_name": "in.jsonl", "file_type": "jsonl"},
        files={"file": ("in.jsonl", content)},
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _create(client: httpx.Client, file_id: str) -> dict[str, Any]:
    response = client.post(
        "/v1/batches", json={"input_file_id": file_id, "endpoint": "/v1/chat/completions"}
    )
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    assert set(answer) == {"job", "warning"}
    return answer["job"]  # type: ignore[no-any-return]


def test_the_documented_upload_answers_a_file_response(tclient: httpx.Client) -> None:
    content = _content("hi")
    uploaded = _upload(tclient, content)
    assert uploaded["id"].startswith("file-") and UUID_RE.fullmatch(uploaded["id"][5:])
    assert {
        key: uploaded[key] for key in ("object", "filename", "bytes", "purpose", "FileType")
    } == {
        "object": "file",
        "filename": "in.jsonl",
        "bytes": len(content),
        "purpose": "batch-api",
        "FileType": "jsonl",
    }
    assert tclient.get(f"/v1/files/{uploaded['id']}/content").content == content


def test_a_batch_runs_with_progress_then_completes(temu: Emulator, tclient: httpx.Client) -> None:
    prompts = ("a", "b", "c [[emulate:errored]]", "d [[emulate:errored]]")
    file_id = _upload(tclient, _content(*prompts))["id"]
    job = _create(tclient, file_id)
    assert set(job) == JOB_KEYS
    assert UUID_RE.fullmatch(job["id"])
    assert (job["status"], job["progress"], job["model_id"]) == ("VALIDATING", 0.0, MODEL)
    temu.advance(50)
    running = tclient.get(f"/v1/batches/{job['id']}").json()
    assert (running["status"], running["progress"]) == ("IN_PROGRESS", 50.0)
    assert running["output_file_id"] is None and running["completed_at"] is None
    temu.advance(50)
    done = tclient.get(f"/v1/batches/{job['id']}").json()
    assert (done["status"], done["progress"]) == ("COMPLETED", 100.0)
    assert done["completed_at"].endswith("Z")
    output = tclient.get(f"/v1/files/{done['output_file_id']}/content").content.splitlines()
    assert sorted(orjson.loads(line)["custom_id"] for line in output) == ["q0", "q1"]
    first = orjson.loads(output[0])
    assert set(first) == {"custom_id", "response"}
    assert first["response"]["status_code"] == 200
    assert set(first["response"]["body"]["usage"]) >= {"prompt_tokens", "completion_tokens"}
    errors = tclient.get(f"/v1/files/{done['error_file_id']}/content").content.splitlines()
    assert sorted(orjson.loads(line)["custom_id"] for line in errors) == ["q2", "q3"]
    assert set(orjson.loads(errors[0])["error"]) == {"message", "code"}


def test_a_cancel_ends_the_batch_and_keeps_what_finished(
    temu: Emulator, tclient: httpx.Client
) -> None:
    file_id = _upload(tclient, _content("a", "b", "c", "d"))["id"]
    job = _create(tclient, file_id)
    temu.advance(50)
    cancelled = tclient.post(f"/v1/batches/{job['id']}/cancel").json()
    assert (cancelled["status"], cancelled["progress"]) == ("CANCELLED", 50.0)
    output = tclient.get(f"/v1/files/{cancelled['output_file_id']}/content").content
    assert len(output.splitlines()) == 2  # the unrun two are in neither file
    assert cancelled["error_file_id"] is None
    again = tclient.post(f"/v1/batches/{job['id']}/cancel")
    assert again.status_code == 400
    assert again.json()["error"]["type"] == "invalid_request_error"


def test_the_24_hour_window_expires_a_batch() -> None:
    with (
        Emulator(time_scale=0, processing_seconds=200_000) as emu,
        httpx.Client(base_url=emu.base_url_for("together"), timeout=10) as client,
    ):
        job = _create(client, _upload(client, _content("a"))["id"])
        emu.advance(86_400)
        assert client.get(f"/v1/batches/{job['id']}").json()["status"] == "EXPIRED"


def test_the_list_is_one_array_newest_first(temu: Emulator, tclient: httpx.Client) -> None:
    file_id = _upload(tclient, _content("a"))["id"]
    first = _create(tclient, file_id)
    temu.advance(1)
    second = _create(tclient, file_id)
    listed = tclient.get("/v1/batches").json()
    assert [item["id"] for item in listed] == [second["id"], first["id"]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"endpoint": "/v1/chat/completions"}, "input_file_id is required"),
        ({"input_file_id": "file-x", "endpoint": "/v1/embeddings"}, "endpoint must be one of"),
    ],
)
def test_a_bad_create_is_a_400(tclient: httpx.Client, body: dict[str, Any], message: str) -> None:
    response = tclient.post("/v1/batches", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and message in error["message"]


def test_a_file_of_another_purpose_cannot_make_a_batch(tclient: httpx.Client) -> None:
    file_id = _upload(tclient, _content("a"), purpose="fine-tune")["id"]
    response = tclient.post(
        "/v1/batches", json={"input_file_id": file_id, "endpoint": "/v1/chat/completions"}
    )
    assert response.status_code == 400 and "batch-api" in response.json()["error"]["message"]


def test_a_wrong_key_is_a_401_in_together_shape() -> None:
    with Emulator(time_scale=0, api_key="right-key") as emu:
        response = httpx.get(
            emu.base_url + "/together/v1/batches", headers={"authorization": "Bearer wrong"}
        )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert "wrong" not in response.text


def test_the_sdk_upload_flow_announces_puts_and_preprocesses(
    temu: Emulator, tclient: httpx.Client
) -> None:
    announced = tclient.post(
        "/v1/files",
        data={"purpose": "batch-api", "file_name": "in.jsonl", "file_type": "jsonl"},
        files={"unused": ("x", b"")},
    )
    assert announced.status_code == 302
    file_id = announced.headers["x-together-file-id"]
    assert announced.headers["location"] == f"{temu.base_url}/together/uploads/{file_id}"
    assert tclient.put(announced.headers["location"], content=b"abc").status_code == 200
    processed = tclient.post(f"/v1/files/{file_id}/preprocess").json()
    assert (processed["id"], processed["bytes"]) == (file_id, 3)


def _line(custom_id: str, **body: Any) -> bytes:
    payload = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **body}
    return orjson.dumps({"custom_id": custom_id, "body": payload}) + b"\n"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (_line("a") + _line("a"), "Line 2: custom_id 'a' is not unique."),
        (_line("x" * 65), "Line 1: custom_id is longer than 64 characters."),
        (_line("a", messages=None), "Line 1: body.messages is required and must be an array."),
        (_line("a") + b"{not json\n", "Line 2: not valid JSON."),
        (b"".join(_line(f"q{i}") for i in range(50_001)), "limit is 50,000"),
    ],
)
def test_a_bad_input_file_fails_the_batch_naming_its_line(
    tclient: httpx.Client, content: bytes, error: str
) -> None:
    job = _create(tclient, _upload(tclient, content)["id"])
    failed = tclient.get(f"/v1/batches/{job['id']}").json()
    assert failed["status"] == "FAILED" and error in failed["error"]
    assert failed["output_file_id"] is None and failed["error_file_id"] is None


def test_marked_expired_and_canceled_requests_are_in_neither_file(
    temu: Emulator, tclient: httpx.Client
) -> None:
    content = _content("a", "b [[emulate:expired]]", "c [[emulate:canceled]]")
    job = _create(tclient, _upload(tclient, content)["id"])
    temu.advance(100)
    done = tclient.get(f"/v1/batches/{job['id']}").json()
    assert done["status"] == "COMPLETED" and done["error_file_id"] is None
    output = tclient.get(f"/v1/files/{done['output_file_id']}/content").content.splitlines()
    assert [orjson.loads(line)["custom_id"] for line in output] == ["q0"]
