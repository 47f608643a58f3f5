"""The official ``mistralai`` SDK, unchanged, drives every Mistral route of the emulator.

Each object the emulator sends is also read raw and checked against the SDK's own pydantic
type: it validates, and carries no field the type does not know.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from mistralai.client import Mistral
from mistralai.client.errors import SDKError
from mistralai.client.models import (
    BatchJob,
    ChatCompletionResponse,
    CreateFileResponse,
    GetFileResponse,
    ListBatchJobsResponse,
    ListFilesResponse,
)
from pydantic import BaseModel

from batchwork_prefect.emulator import Emulator

KEY = "mistral-test-0123456789abcdef"
MODEL = "mistral-small-latest"
ENDPOINT = "/v1/chat/completions"


def _base(emu: Emulator) -> str:
    return emu.base_url_for("mistral")


@pytest.fixture
def sdk_emu() -> Iterator[Emulator]:
    with Emulator(time_scale=0, processing_seconds=60, api_key=KEY) as emu:
        yield emu


@pytest.fixture
def sdk(sdk_emu: Emulator) -> Iterator[Mistral]:
    with Mistral(api_key=KEY, server_url=_base(sdk_emu)) as client:
        yield client


@pytest.fixture
def raw(sdk_emu: Emulator) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=_base(sdk_emu), headers=headers, timeout=10) as client:
        yield client


def _known(model: type[BaseModel], value: Any) -> None:
    """``value`` validates as ``model`` and has no key it does not know (nested too)."""
    model.model_validate(value)
    names = {field.alias or name for name, field in model.model_fields.items()}
    assert set(value) <= names, set(value) - names


def _lines(*prompts: str) -> bytes:
    return b"".join(
        orjson.dumps(
            {"custom_id": f"q{n}", "body": {"messages": [{"role": "user", "content": prompt}]}}
        )
        + b"\n"
        for n, prompt in enumerate(prompts)
    )


def test_upload_create_complete_download(
    sdk: Mistral, sdk_emu: Emulator, raw: httpx.Client
) -> None:
    content = _lines("Capital of France? One word.", "x [[emulate:errored:invalid_request_error]]")
    uploaded = sdk.files.upload(file={"file_name": "in.jsonl", "content": content}, purpose="batch")
    assert (uploaded.size_bytes, uploaded.purpose, uploaded.filename, uploaded.num_lines) == (
        len(content),
        "batch",
        "in.jsonl",
        2,
    )
    upload_body = raw.get(f"/v1/files/{uploaded.id}").json()
    _known(CreateFileResponse, {k: v for k, v in upload_body.items() if k != "deleted"})
    fetched = sdk.files.retrieve(file_id=uploaded.id)
    assert (fetched.id, fetched.deleted, fetched.sample_type) == (
        uploaded.id,
        False,
        "batch_request",
    )
    _known(GetFileResponse, raw.get(f"/v1/files/{uploaded.id}").json())
    assert sdk.files.download(file_id=uploaded.id).read() == content

    job = sdk.batch.jobs.create(
        input_files=[uploaded.id],
        model=MODEL,
        endpoint=ENDPOINT,
        metadata={"run": "conformance"},
        timeout_hours=48,
    )
    assert (job.status, job.metadata, job.input_files, job.total_requests) == (
        "QUEUED",
        {"run": "conformance"},
        [uploaded.id],
        2,
    )
    assert sdk.batch.jobs.get(job_id=job.id).status == "RUNNING"
    sdk_emu.advance(60)
    done = sdk.batch.jobs.get(job_id=job.id)
    _known(BatchJob, raw.get(f"/v1/batch/jobs/{job.id}").json())
    assert (
        done.status,
        done.succeeded_requests,
        done.failed_requests,
        done.completed_requests,
    ) == (
        "SUCCESS",
        1,
        1,
        2,
    )
    assert isinstance(done.output_file, str) and isinstance(done.error_file, str)
    output = [
        orjson.loads(line)
        for line in sdk.files.download(file_id=done.output_file).read().splitlines()
    ]
    assert [line["custom_id"] for line in output] == ["q0"]
    assert output[0]["response"]["status_code"] == 200 and output[0]["error"] is None
    completion = ChatCompletionResponse.model_validate(output[0]["response"]["body"])
    assert completion.choices[0].message.content == "Paris"
    errors = [
        orjson.loads(line)
        for line in sdk.files.download(file_id=done.error_file).read().splitlines()
    ]
    assert [(line["custom_id"], line["response"]["status_code"]) for line in errors] == [
        ("q1", 400)
    ]
    assert errors[0]["response"]["body"]["type"] == "invalid_request_error"
    assert sdk.files.retrieve(file_id=done.output_file).sample_type == "batch_result"
    deleted = sdk.batch.jobs.delete(job_id=job.id)
    assert (deleted.id, deleted.deleted) == (job.id, True)
    gone = sdk.files.delete(file_id=uploaded.id)
    assert (gone.id, gone.deleted) == (uploaded.id, True)
    with pytest.raises(SDKError) as missing:
        sdk.files.retrieve(file_id=uploaded.id)
    assert missing.value.status_code == 404


def test_inline_requests_give_their_results_as_outputs(sdk: Mistral, sdk_emu: Emulator) -> None:
    job = sdk.batch.jobs.create(
        requests=[
            {
                "custom_id": "a",
                "body": {"messages": [{"role": "user", "content": "Capital of Japan? One word."}]},
            }
        ],
        model=MODEL,
        endpoint=ENDPOINT,
    )
    assert (job.status, job.input_files, job.total_requests) == ("QUEUED", [], 1)
    sdk_emu.advance(60)
    done = sdk.batch.jobs.get(job_id=job.id)
    assert done.status == "SUCCESS" and done.outputs is not None
    assert [
        (item["custom_id"], item["response"]["body"]["choices"][0]["message"]["content"])
        for item in done.outputs
    ] == [("a", "Tokyo")]


def test_a_file_job_gives_outputs_when_asked_inline(sdk: Mistral, sdk_emu: Emulator) -> None:
    uploaded = sdk.files.upload(
        file={"file_name": "in.jsonl", "content": _lines("hi")}, purpose="batch"
    )
    job = sdk.batch.jobs.create(input_files=[uploaded.id], model=MODEL, endpoint=ENDPOINT)
    sdk_emu.advance(60)
    assert sdk.batch.jobs.get(job_id=job.id).outputs is None
    outputs = sdk.batch.jobs.get(job_id=job.id, inline=True).outputs
    assert outputs is not None and [item["custom_id"] for item in outputs] == ["q0"]


def test_cancel_then_cancelled(sdk: Mistral, sdk_emu: Emulator) -> None:
    uploaded = sdk.files.upload(
        file={"file_name": "in.jsonl", "content": _lines("a", "b")}, purpose="batch"
    )
    job = sdk.batch.jobs.create(input_files=[uploaded.id], model=MODEL, endpoint=ENDPOINT)
    cancelling = sdk.batch.jobs.cancel(job_id=job.id)
    assert cancelling.status == "CANCELLATION_REQUESTED"
    sdk_emu.advance(1)
    cancelled = sdk.batch.jobs.get(job_id=job.id)
    assert (cancelled.status, cancelled.succeeded_requests, cancelled.failed_requests) == (
        "CANCELLED",
        0,
        0,
    )
    with pytest.raises(SDKError) as refused:
        sdk.batch.jobs.cancel(job_id=job.id)
    assert refused.value.status_code == 400


def test_list_jobs_and_files_newest_first_with_filters(
    sdk: Mistral, sdk_emu: Emulator, raw: httpx.Client
) -> None:
    uploaded = sdk.files.upload(
        file={"file_name": "in.jsonl", "content": _lines("a")}, purpose="batch"
    )
    ids = [
        sdk.batch.jobs.create(input_files=[uploaded.id], model=MODEL, endpoint=ENDPOINT).id
        for _ in range(3)
    ]
    listed = sdk.batch.jobs.list(page=0, page_size=2)
    assert listed.total == 3 and [job.id for job in listed.data or []] == ids[::-1][:2]
    assert [job.id for job in sdk.batch.jobs.list(page=1, page_size=2).data or []] == ids[:1]
    assert [job.id for job in sdk.batch.jobs.list(order_by="created").data or []] == ids
    assert sdk.batch.jobs.list(status=["SUCCESS"]).total == 0
    assert sdk.batch.jobs.list(status=["RUNNING"]).total == 3
    _known(ListBatchJobsResponse, raw.get("/v1/batch/jobs").json())
    files = sdk.files.list()
    assert [item.id for item in files.data] == [uploaded.id]
    _known(ListFilesResponse, raw.get("/v1/files").json())


def test_a_wrong_key_is_refused(sdk_emu: Emulator) -> None:
    with (
        Mistral(api_key="wrong", server_url=_base(sdk_emu)) as client,
        pytest.raises(SDKError) as refused,
    ):
        client.batch.jobs.list()
    assert refused.value.status_code == 401


def test_bad_creates_are_refused(sdk: Mistral) -> None:
    with pytest.raises(SDKError) as neither:
        sdk.batch.jobs.create(model=MODEL, endpoint=ENDPOINT)
    assert neither.value.status_code == 400
    with pytest.raises(SDKError) as unknown:
        sdk.batch.jobs.create(
            input_files=["fe3343a2-3b8d-404b-ba32-a78dede2614a"], model=MODEL, endpoint=ENDPOINT
        )
    assert unknown.value.status_code == 404
    with pytest.raises(SDKError) as timeout:
        sdk.batch.jobs.create(
            requests=[{"custom_id": "a", "body": {"messages": []}}],
            model=MODEL,
            endpoint=ENDPOINT,
            timeout_hours=168,
        )
    assert timeout.value.status_code == 422
