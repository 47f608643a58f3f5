"""The official ``openai`` SDK, unchanged, drives every OpenAI route of the emulator.

Every object the SDK returns is also validated strictly against the SDK's own pydantic
types (the SDK itself builds them without validation) and must carry no unknown fields.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import openai
import orjson
import pytest
from openai.types import Batch, FileDeleted, FileObject
from openai.types.chat import ChatCompletion
from pydantic import BaseModel

from batchwork_prefect.emulator import Emulator
from tests.emulator.openai_helpers import ENDPOINT, jsonl, line

KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def sdk_emu() -> Iterator[Emulator]:
    with Emulator(time_scale=0, processing_seconds=60, api_key=KEY) as emu:
        yield emu


@pytest.fixture
def sdk(sdk_emu: Emulator) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key=KEY, base_url=sdk_emu.openai_base_url, max_retries=0) as client:
        yield client


def _strict(model: BaseModel) -> None:
    assert not model.model_extra, model.model_extra
    type(model).model_validate(model.model_dump(mode="json", exclude_unset=True), strict=False)


def _upload(sdk: openai.OpenAI, content: bytes) -> FileObject:
    uploaded = sdk.files.create(file=("requests.jsonl", io.BytesIO(content)), purpose="batch")
    _strict(uploaded)
    return uploaded


def test_upload_create_complete_read(sdk: openai.OpenAI, sdk_emu: Emulator) -> None:
    content = jsonl(
        [line("q0", "Capital of France? One word."), line("q1", "x [[emulate:errored]]")]
    )
    uploaded = _upload(sdk, content)
    assert (uploaded.bytes, uploaded.purpose, uploaded.filename) == (
        len(content),
        "batch",
        "requests.jsonl",
    )
    fetched = sdk.files.retrieve(uploaded.id)
    _strict(fetched)
    assert fetched == uploaded
    assert sdk.files.content(uploaded.id).content == content

    batch = sdk.batches.create(
        input_file_id=uploaded.id,
        endpoint=ENDPOINT,
        completion_window="24h",
        metadata={"run": "conformance"},
    )
    _strict(batch)
    assert (batch.status, batch.metadata, batch.input_file_id) == (
        "validating",
        {"run": "conformance"},
        uploaded.id,
    )
    assert batch._request_id is not None and batch._request_id.startswith("req_")
    running = sdk.batches.retrieve(batch.id)
    _strict(running)
    assert running.status == "in_progress"
    sdk_emu.advance(60)
    done = sdk.batches.retrieve(batch.id)
    _strict(done)
    assert done.status == "completed"
    assert done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed) == (2, 1)
    assert done.usage is not None and done.usage.total_tokens == 9
    assert done.output_file_id is not None and done.error_file_id is not None

    output = sdk.files.content(done.output_file_id)
    (raw,) = output.text.splitlines()
    entry = orjson.loads(raw)
    completion = ChatCompletion.model_validate(entry["response"]["body"], strict=False)
    assert completion.choices[0].message.content == "Paris"
    assert completion.usage is not None and completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 0
    (error_raw,) = sdk.files.content(done.error_file_id).text.splitlines()
    assert orjson.loads(error_raw)["response"]["status_code"] == 500
    output_file = sdk.files.retrieve(done.output_file_id)
    _strict(output_file)
    assert output_file.purpose == "batch_output"

    deleted = sdk.files.delete(uploaded.id)
    _strict(deleted)
    assert isinstance(deleted, FileDeleted) and deleted.deleted
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve(uploaded.id)


def test_list_pages_with_after(sdk: openai.OpenAI) -> None:
    uploaded = _upload(sdk, jsonl([line("a")]))
    ids = [
        sdk.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h").id
        for _ in range(5)
    ]
    page = sdk.batches.list(limit=2)
    assert [batch.id for batch in page.data] == ids[::-1][:2]
    assert page.has_more is True
    walked = list(sdk.batches.list(limit=2))
    for batch in walked:
        _strict(batch)
    assert isinstance(walked[0], Batch)
    assert [batch.id for batch in walked] == ids[::-1]


def test_cancel_and_failed(sdk: openai.OpenAI, sdk_emu: Emulator) -> None:
    good = _upload(sdk, jsonl([line("a"), line("b")]))
    batch = sdk.batches.create(input_file_id=good.id, endpoint=ENDPOINT, completion_window="24h")
    cancelling = sdk.batches.cancel(batch.id)
    _strict(cancelling)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    cancelled = sdk.batches.retrieve(batch.id)
    _strict(cancelled)
    assert cancelled.status == "cancelled"
    assert cancelled.error_file_id is not None and cancelled.output_file_id is None
    with pytest.raises(openai.ConflictError):
        sdk.batches.cancel(batch.id)

    bad = _upload(sdk, b'{"custom_id": "a"}\n')
    failed = sdk.batches.retrieve(
        sdk.batches.create(input_file_id=bad.id, endpoint=ENDPOINT, completion_window="24h").id
    )
    _strict(failed)
    assert failed.status == "failed"
    assert failed.errors is not None and failed.errors.data is not None
    assert failed.errors.data[0].code == "missing_required_parameter"
    assert failed.errors.data[0].line == 1


def test_errors_map_to_sdk_exceptions(sdk: openai.OpenAI, sdk_emu: Emulator) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.batches.retrieve("batch_nope")
    assert missing.value.request_id is not None
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.files.create(file=("notes.csv", io.BytesIO(b"x")), purpose="batch")
    assert bad.value.message.endswith("Invalid file format for Batch API. Must be .jsonl")
    with (
        openai.OpenAI(
            api_key="sk-wrong-0123456789", base_url=sdk_emu.openai_base_url, max_retries=0
        ) as wrong,
        pytest.raises(openai.AuthenticationError) as denied,
    ):
        wrong.batches.list()
    assert denied.value.code == "invalid_api_key"
    assert "sk-wrong*******6789" in denied.value.message


def test_request_failing_once_succeeds_when_resubmitted(
    sdk: openai.OpenAI, sdk_emu: Emulator
) -> None:
    content = jsonl(
        [
            line("busy", "[[emulate:errored:overloaded_error:x1]]"),
            line("late", "[[emulate:expired:x1]]"),
        ]
    )
    rounds = []
    for _ in range(2):
        uploaded = _upload(sdk, content)
        batch = sdk.batches.create(
            input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h"
        )
        sdk_emu.advance(60)
        done = sdk.batches.retrieve(batch.id)
        _strict(done)
        assert done.status == "completed"
        lines = {}
        for file_id in (done.output_file_id, done.error_file_id):
            if file_id is not None:
                for raw in sdk.files.content(file_id).text.splitlines():
                    entry = orjson.loads(raw)
                    lines[entry["custom_id"]] = entry
        rounds.append(lines)
    first, second = rounds
    assert first["busy"]["response"]["status_code"] == 503
    assert first["busy"]["response"]["body"]["error"]["type"] == "overloaded_error"
    assert first["late"]["response"] is None
    assert first["late"]["error"]["code"] == "batch_expired"
    for custom_id in ("busy", "late"):
        completion = ChatCompletion.model_validate(second[custom_id]["response"]["body"])
        assert completion.choices[0].finish_reason == "stop"
    assert sdk_emu.submissions("busy", api="openai") == 2
