"""Together's wire format, pure: requests as chat completions bodies and input lines, batch
objects as snapshots, output and error lines as results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from batchwork_prefect import InvalidBatchError, UnknownStatusError, UnsafeURLError
from batchwork_prefect.core import build_parts
from batchwork_prefect.models import BatchRequest, BatchStatus, ResultStatus
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers.together import (
    LIMITS,
    TogetherFormat,
    check_batch_id,
    check_file_id,
    encode_request,
    input_name,
    map_status,
    output_fields,
    parse_result_line,
    read_input_name,
    request_params,
    snapshot_from_body,
)

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
DIGEST = "ab" * 32

# the batch object of the API reference's create example
DOCS_JOB: dict[str, Any] = {
    "id": "01234567-8901-2345-6789-012345678901",
    "user_id": "user_789xyz012",
    "input_file_id": "file-input123abc456def",
    "file_size_bytes": 1048576,
    "status": "IN_PROGRESS",
    "job_deadline": "2024-01-15T15:30:00Z",
    "created_at": "2024-01-15T14:30:00Z",
    "endpoint": "/v1/chat/completions",
    "progress": 75,
    "model_id": "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
    "output_file_id": "file-output789xyz012ghi",
    "error_file_id": "file-errors456def789jkl",
    "error": None,
    "completed_at": "2024-01-15T15:45:30Z",
}


def _params(defaults: dict[str, Any] | None = None, **request: Any) -> dict[str, Any]:
    return request_params(MODEL, BatchRequest(**request), defaults or {})


def test_every_typed_field_maps_to_its_together_name() -> None:
    body = _params(
        {"temperature": 0.5, "repetition_penalty": 1.1},
        prompt="hi",
        system="Be brief.",
        max_tokens=64,
        top_p=0.9,
        top_k=40,
        stop_sequences=["\n\n", "END", "STOP", "x", "y"],
        params={"seed": 7},
    )
    assert body == {
        "model": MODEL,
        "temperature": 0.5,
        "repetition_penalty": 1.1,
        "max_tokens": 64,
        "top_p": 0.9,
        "top_k": 40,
        "stop": ["\n\n", "END", "STOP", "x", "y"],
        "seed": 7,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi"},
        ],
    }


def test_messages_pass_as_given_and_anthropic_tools_become_functions() -> None:
    messages = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]
    tool = {"name": "f", "description": "d", "input_schema": {"type": "object"}}
    body = _params(messages=messages, tools=[tool], tool_choice={"type": "any"})
    assert body == {
        "model": MODEL,
        "tools": [
            {
                "type": "function",
                "function": {"name": "f", "description": "d", "parameters": {"type": "object"}},
            }
        ],
        "tool_choice": "required",
        "messages": messages,
    }


@pytest.mark.parametrize(
    ("request_fields", "named"),
    [
        ({"params": {"thinking": {"type": "enabled"}}}, "params.thinking"),
        ({"params": {"system": "x"}}, "params.system"),
        ({"params": {"stream": True}}, "stream=True"),
        ({"params": {"model": "other"}}, "conflicts"),
    ],
)
def test_what_together_cannot_take_is_refused_before_sending(
    request_fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=named.replace("=", ".")):
        _params(prompt="hi", **request_fields)


def test_a_refused_field_is_an_invalid_batch_error_naming_the_request() -> None:
    requests = [BatchRequest(custom_id="q0", prompt="hi", params={"thinking": {}})]
    with pytest.raises(InvalidBatchError, match="thinking"):
        build_parts(TogetherFormat(), MODEL, requests, {})


def test_an_input_line_is_custom_id_and_body_only() -> None:
    line = encode_request("q0", {"model": MODEL, "messages": []})
    assert orjson.loads(line) == {"custom_id": "q0", "body": {"model": MODEL, "messages": []}}


def test_typed_output_is_a_json_schema_response_format() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    output = OutputType.of(schema)
    assert output is not None
    assert output_fields(output) == {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": output.name, "schema": output.schema},
        }
    }
    body = request_params(MODEL, BatchRequest(prompt="hi"), {}, output_fields(output))
    assert body["response_format"]["type"] == "json_schema"


def test_limits_are_50000_requests_and_100_mb() -> None:
    assert (LIMITS.max_requests, LIMITS.max_bytes) == (50_000, 100_000_000)


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("VALIDATING", BatchStatus.VALIDATING),
        ("IN_PROGRESS", BatchStatus.IN_PROGRESS),
        ("COMPLETED", BatchStatus.COMPLETED),
        ("FAILED", BatchStatus.FAILED),
        ("EXPIRED", BatchStatus.EXPIRED),
        ("CANCELLED", BatchStatus.CANCELLED),
        ("CANCELING", BatchStatus.CANCELLING),
    ],
)
def test_statuses_map_to_the_shared_words(word: str, status: BatchStatus) -> None:
    assert map_status(word) is status


@pytest.mark.parametrize("word", ["completed", "PAUSED", None, 3])
def test_an_unknown_status_fails_closed(word: Any) -> None:
    with pytest.raises(UnknownStatusError):
        map_status(word)


def test_the_input_file_name_carries_the_digest_and_count() -> None:
    assert input_name(DIGEST, 12) == f"batchwork-{DIGEST}-12.jsonl"
    assert read_input_name(input_name(DIGEST, 12)) == (DIGEST, 12)
    assert read_input_name("my_file.jsonl") is None
    assert read_input_name(None) is None


def test_the_docs_batch_object_reads_as_a_snapshot() -> None:
    snapshot = snapshot_from_body(DOCS_JOB, input_file=(DIGEST, 8))
    assert snapshot.status is BatchStatus.IN_PROGRESS
    assert snapshot.provider_status == "IN_PROGRESS"
    assert snapshot.created_at == datetime(2024, 1, 15, 14, 30, tzinfo=UTC)
    assert snapshot.expires_at == datetime(2024, 1, 15, 15, 30, tzinfo=UTC)
    assert snapshot.ended_at is None  # not ended: completed_at is not read
    assert snapshot.digest == DIGEST
    assert snapshot.request_counts.model_dump() == {
        "total": 8,
        "processing": 8,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }


@pytest.mark.parametrize(
    ("status", "counts"),
    [
        ("COMPLETED", {"succeeded": 8}),
        ("FAILED", {"errored": 8}),
        ("EXPIRED", {"succeeded": 6, "expired": 2}),
        ("CANCELLED", {"succeeded": 6, "canceled": 2}),
    ],
)
def test_an_ended_batch_counts_by_status_and_progress(status: str, counts: dict[str, int]) -> None:
    snapshot = snapshot_from_body({**DOCS_JOB, "status": status}, input_file=(DIGEST, 8))
    expected = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
    assert snapshot.request_counts.model_dump() == {"total": 8, **expected, **counts}
    assert snapshot.ended_at == datetime(2024, 1, 15, 15, 45, 30, tzinfo=UTC)


def test_a_failed_batch_keeps_its_error_as_a_problem() -> None:
    body = {**DOCS_JOB, "status": "FAILED", "error": "Line 3: body.model is required."}
    snapshot = snapshot_from_body(body, input_file=(DIGEST, 8))
    assert [(p.code, p.message) for p in snapshot.errors] == [
        ("batch_failed", "Line 3: body.model is required.")
    ]


def test_nanosecond_times_and_a_batch_made_elsewhere_read() -> None:
    body = {**DOCS_JOB, "created_at": "2024-01-15T14:30:00.123456789Z"}
    snapshot = snapshot_from_body(body)
    assert snapshot.created_at == datetime(2024, 1, 15, 14, 30, 0, 123456, tzinfo=UTC)
    assert (snapshot.digest, snapshot.request_counts.total) == (None, 0)


@pytest.mark.parametrize("bad", [{"progress": "75"}, {"progress": -1}, {"created_at": 5}])
def test_a_malformed_batch_object_fails_closed(bad: dict[str, Any]) -> None:
    from batchwork_prefect import ProtocolError

    with pytest.raises(ProtocolError):
        snapshot_from_body({**DOCS_JOB, **bad})


@pytest.mark.parametrize(
    "batch_id", ["", "../files", "a/b", "x?y=1", "01234567 8901", "-lead", "é" * 3]
)
def test_unsafe_ids_never_reach_a_url(batch_id: str) -> None:
    with pytest.raises(UnsafeURLError):
        check_batch_id(batch_id)


@pytest.mark.parametrize("file_id", ["", "file-", "file-../x", "file-a/b", "files-1", "file-a b"])
def test_unsafe_file_ids_never_reach_a_url(file_id: str) -> None:
    with pytest.raises(UnsafeURLError):
        check_file_id(file_id)


def test_uuid_and_docs_ids_pass() -> None:
    assert check_batch_id(DOCS_JOB["id"]) == DOCS_JOB["id"]
    assert check_batch_id("batch-xyz789") == "batch-xyz789"
    assert check_file_id("file-input123abc456def") == "file-input123abc456def"


COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": MODEL,
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15, "cached_tokens": 4},
}


def test_an_output_line_is_a_success_with_text_and_usage() -> None:
    line = orjson.dumps(
        {"custom_id": "request-1", "response": {"status_code": 200, "body": COMPLETION}}
    )
    result = parse_result_line(line, "b1")
    assert result is not None
    assert (result.custom_id, result.status, result.text) == (
        "request-1",
        ResultStatus.SUCCEEDED,
        "Hello!",
    )
    assert result.usage is not None
    assert (
        result.usage.input_tokens,
        result.usage.output_tokens,
        result.usage.cache_read_input_tokens,
        result.usage.cache_creation_input_tokens,
    ) == (12, 3, 4, 0)
    assert result.message == COMPLETION


def test_an_error_line_is_errored_with_its_code_and_message() -> None:
    # the error line of Together's batch guide
    line = (
        b'{"custom_id": "req-1", "error": '
        b'{"message": "Invalid model specified", "code": "invalid_model"}}'
    )
    result = parse_result_line(line, "b1")
    assert result is not None and result.status is ResultStatus.ERRORED
    assert result.error is not None
    assert (result.error.type, result.error.message) == ("invalid_model", "Invalid model specified")


def test_a_non_200_output_line_is_errored_with_the_api_error() -> None:
    body = {"error": {"message": "bad", "type": "invalid_request_error"}}
    line = orjson.dumps({"custom_id": "q", "response": {"status_code": 400, "body": body}})
    result = parse_result_line(line)
    assert result is not None and result.error is not None
    assert (result.status, result.error.type, result.error.status_code) == (
        ResultStatus.ERRORED,
        "invalid_request_error",
        400,
    )


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        ('{"message": "m", "type": "timeout"}', "timeout", "m"),
        ('{"message": "m", "code": 429}', "429", "m"),
        ('{"message": "m"}', "request_failed", "m"),
        ('"plain text"', "request_failed", "plain text"),
    ],
)
def test_an_error_line_without_a_code_falls_back_to_its_type(
    error: str, kind: str, message: str
) -> None:
    result = parse_result_line(b'{"custom_id": "q", "error": ' + error.encode() + b"}")
    assert result is not None and result.error is not None
    assert (result.error.type, result.error.message) == (kind, message)


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b'{"custom_id": "q"}',
        b'{"response": {"status_code": 200, "body": {}}}',
        b'{"custom_id": "q", "response": {"status_code": 200, "body": {"choices": []}}}',
        b'{"custom_id": "q", "response": {"status_code": 200, "body": {}}, "error": "x"}',
    ],
)
def test_a_malformed_line_is_not_a_result(line: bytes) -> None:
    assert parse_result_line(line) is None
