"""The official ``together`` SDK, unchanged, drives every Together route of the emulator:
files (the SDK's announce, PUT and preprocess upload; retrieve, list, content, delete) and
batches (create, retrieve, list, cancel). Each batch object is also validated against the
SDK's own pydantic type (the SDK builds them without validation)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import together
from pydantic import BaseModel
from together.types import FileResponse

from batchwork_prefect.emulator import Emulator

KEY = "tgp-test-0123456789abcdef"
MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


@pytest.fixture
def sdk_emu() -> Iterator[Emulator]:
    # no key: the SDK PUTs the file's bytes to its upload URL without one (a presigned URL)
    with Emulator(time_scale=0, processing_seconds=60) as emu:
        yield emu


@pytest.fixture
def sdk(sdk_emu: Emulator) -> Iterator[together.Together]:
    base_url = sdk_emu.base_url_for("together")
    with together.Together(api_key=KEY, base_url=base_url, max_retries=0) as client:
        yield client


def _strict(model: BaseModel) -> None:
    type(model).model_validate(model.model_dump(mode="json", by_alias=True), strict=False)


def _lines(*entries: tuple[str, str]) -> bytes:
    return b"".join(
        orjson.dumps(
            {
                "custom_id": custom_id,
                "body": {"model": MODEL, "messages": [{"role": "user", "content": prompt}]},
            }
        )
        + b"\n"
        for custom_id, prompt in entries
    )


def _upload(sdk: together.Together, tmp_path: Path, content: bytes) -> FileResponse:
    path = tmp_path / "batch_input.jsonl"
    path.write_bytes(content)
    uploaded = sdk.files.upload(file=path, purpose="batch-api", check=False)
    _strict(uploaded)
    return uploaded


def test_upload_create_complete_read(
    sdk: together.Together, sdk_emu: Emulator, tmp_path: Path
) -> None:
    content = _lines(("request-1", "Hello, world!"), ("request-2", "x [[emulate:errored]]"))
    uploaded = _upload(sdk, tmp_path, content)
    assert (uploaded.bytes, uploaded.purpose, uploaded.filename) == (
        len(content),
        "batch-api",
        "batch_input.jsonl",
    )
    assert uploaded.id.startswith("file-")
    fetched = sdk.files.retrieve(uploaded.id)
    _strict(fetched)
    assert fetched.id == uploaded.id and fetched.bytes == len(content)
    assert sdk.files.content(uploaded.id).read() == content
    assert uploaded.id in [item.id for item in sdk.files.list().data or []]

    created = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions")
    assert created.job is not None
    job = created.job
    _strict(job)
    assert (job.status, job.input_file_id, job.endpoint, job.x_model_id) == (
        "VALIDATING",
        uploaded.id,
        "/v1/chat/completions",
        MODEL,
    )
    assert job.id is not None and job.file_size_bytes == len(content)
    running = sdk.batches.retrieve(job.id)
    _strict(running)
    assert (running.status, running.progress, running.output_file_id) == ("IN_PROGRESS", 0.0, None)
    sdk_emu.advance(60)
    done = sdk.batches.retrieve(job.id)
    _strict(done)
    assert (done.status, done.progress) == ("COMPLETED", 100.0)
    assert done.completed_at is not None and done.created_at is not None
    assert done.output_file_id and done.error_file_id
    output = [
        orjson.loads(line) for line in sdk.files.content(done.output_file_id).read().splitlines()
    ]
    assert [line["custom_id"] for line in output] == ["request-1"]
    assert output[0]["response"]["status_code"] == 200
    assert output[0]["response"]["body"]["choices"][0]["message"]["role"] == "assistant"
    errors = [
        orjson.loads(line) for line in sdk.files.content(done.error_file_id).read().splitlines()
    ]
    assert [(line["custom_id"], sorted(line["error"])) for line in errors] == [
        ("request-2", ["code", "message"])
    ]
    listed = sdk.batches.list()
    assert [batch.id for batch in listed] == [job.id]
    for batch in listed:
        _strict(batch)


def test_cancel_then_list_newest_first(
    sdk: together.Together, sdk_emu: Emulator, tmp_path: Path
) -> None:
    uploaded = _upload(sdk, tmp_path, _lines(("a", "one"), ("b", "two")))
    first = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions").job
    sdk_emu.advance(1)
    second = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions").job
    assert first is not None and second is not None and first.id and second.id
    cancelled = sdk.batches.cancel(first.id)
    _strict(cancelled)
    assert cancelled.status == "CANCELLED"
    assert [batch.id for batch in sdk.batches.list()] == [second.id, first.id]
    with pytest.raises(together.BadRequestError):
        sdk.batches.cancel(first.id)


def test_a_bad_input_file_fails_the_batch_with_an_error(
    sdk: together.Together, sdk_emu: Emulator, tmp_path: Path
) -> None:
    bad = _lines(("a", "one")) + b'{"custom_id": "b", "body": {"messages": []}}\n'
    uploaded = _upload(sdk, tmp_path, bad)
    job = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions").job
    assert job is not None and job.id
    failed = sdk.batches.retrieve(job.id)
    _strict(failed)
    assert (failed.status, failed.error) == ("FAILED", "Line 2: body.model is required.")


def test_errors_are_the_sdk_exceptions(sdk: together.Together, tmp_path: Path) -> None:
    with pytest.raises(together.NotFoundError) as missing:
        sdk.batches.retrieve("00000000-0000-0000-0000-000000000000")
    body: Any = missing.value.body
    assert body["error"]["message"].startswith("Batch not found")
    with pytest.raises(together.NotFoundError):
        sdk.batches.create(input_file_id="file-missing", endpoint="/v1/chat/completions")
    deleted = sdk.files.delete(_upload(sdk, tmp_path, _lines(("a", "one"))).id)
    assert deleted.deleted is True


def test_a_wrong_key_is_refused() -> None:
    with Emulator(time_scale=0, api_key=KEY) as emu:
        base_url = emu.base_url_for("together")
        wrong = together.Together(api_key="wrong", base_url=base_url, max_retries=0)
        with wrong, pytest.raises(together.AuthenticationError):
            wrong.batches.list()
        with together.Together(api_key=KEY, base_url=base_url, max_retries=0) as client:
            assert client.batches.list() == []
