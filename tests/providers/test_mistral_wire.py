"""Mistral's wire format, pure: requests mapped, job objects read, result lines parsed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from batchwork_prefect import BatchStatus, ProtocolError, UnknownStatusError, UnsafeURLError
from batchwork_prefect.models import BatchRequest, ResultStatus
from batchwork_prefect.outputs import CONTEXT_WINDOW_EXCEEDED, OutputType
from batchwork_prefect.providers.mistral import (
    check_batch_id,
    check_file_id,
    encode_request,
    map_status,
    mistral_schema,
    output_fields,
    parse_result_line,
    request_params,
    snapshot_from_body,
)

MODEL = "mistral-small-latest"
JOB_ID = "fe3343a2-3b8d-404b-ba32-a78dede2614a"


def _params(request: dict[str, Any], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    return request_params(MODEL, BatchRequest.model_validate(request), defaults or {})


def test_a_prompt_with_every_typed_field() -> None:
    body = _params(
        {
            "custom_id": "a",
            "prompt": "Hi",
            "system": "Be brief.",
            "max_tokens": 16,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop_sequences": ["END", "STOP"],
            "tools": [{"name": "f", "description": "d", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
            "params": {"random_seed": 7, "safe_prompt": True},
        }
    )
    assert body == {
        "model": MODEL,
        "random_seed": 7,
        "safe_prompt": True,
        "max_tokens": 16,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["END", "STOP"],
        "tools": [
            {
                "type": "function",
                "function": {"name": "f", "description": "d", "parameters": {"type": "object"}},
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "parallel_tool_calls": False,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
    }


@pytest.mark.parametrize(("kind", "sent"), [("auto", "auto"), ("any", "any"), ("none", "none")])
def test_tool_choice_words(kind: str, sent: str) -> None:
    body = _params({"custom_id": "a", "prompt": "Hi", "tool_choice": {"type": kind}})
    assert body["tool_choice"] == sent


def test_messages_pass_as_given_and_defaults_lose_to_the_request() -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    body = _params(
        {"custom_id": "a", "messages": messages, "max_tokens": 5},
        {"max_tokens": 99, "temperature": 0.5},
    )
    assert body == {"model": MODEL, "max_tokens": 5, "temperature": 0.5, "messages": messages}


@pytest.mark.parametrize(
    ("request_", "fix"),
    [
        ({"top_k": 5}, "Mistral has no top_k"),
        ({"params": {"seed": 1}}, "random_seed"),
        ({"params": {"thinking": {"type": "enabled"}}}, "reasoning_effort"),
        ({"params": {"max_completion_tokens": 5}}, "max_tokens field"),
        ({"params": {"stop_sequences": ["x"]}}, "stop_sequences field"),
        ({"params": {"model": "other"}}, "conflicts with the batch model"),
        ({"params": {"stream": True}}, "stream=True"),
        ({"tools": [{"type": "web_search_20250305", "name": "web"}]}, "function tools"),
    ],
)
def test_what_mistral_cannot_take_is_refused_naming_the_fix(
    request_: dict[str, Any], fix: str
) -> None:
    with pytest.raises(ValueError, match=fix):
        _params({"custom_id": "a", "prompt": "Hi", **request_})


def test_a_line_is_custom_id_and_body_only() -> None:
    line = encode_request("a", {"model": MODEL, "messages": []})
    assert orjson.loads(line) == {"custom_id": "a", "body": {"model": MODEL, "messages": []}}


def test_typed_output_is_a_strict_json_schema_every_object_closed() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "where": {"type": "object", "properties": {"lat": {"type": "number"}}},
        },
        "required": ["city"],
    }
    fields = output_fields(OutputType(None, schema, "Answer"))
    assert fields == {
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "Answer",
                "schema": {
                    "type": "object",
                    "properties": {
                        "city": {"type": "string"},
                        "where": {
                            "type": "object",
                            "properties": {"lat": {"type": "number"}},
                            "additionalProperties": False,
                        },
                    },
                    "required": ["city"],
                    "additionalProperties": False,
                },
                "strict": True,
            },
        }
    }


def test_a_free_form_object_is_refused() -> None:
    with pytest.raises(ValueError, match="free-form object"):
        mistral_schema({"type": "object", "additionalProperties": True})


@pytest.mark.parametrize(
    ("word", "status"),
    [
        ("QUEUED", BatchStatus.VALIDATING),
        ("RUNNING", BatchStatus.IN_PROGRESS),
        ("SUCCESS", BatchStatus.COMPLETED),
        ("FAILED", BatchStatus.FAILED),
        ("TIMEOUT_EXCEEDED", BatchStatus.EXPIRED),
        ("CANCELLATION_REQUESTED", BatchStatus.CANCELLING),
        ("CANCELLED", BatchStatus.CANCELLED),
    ],
)
def test_statuses(word: str, status: BatchStatus) -> None:
    assert map_status(word) is status


def test_an_unknown_status_fails_closed() -> None:
    with pytest.raises(UnknownStatusError):
        map_status("PAUSED")


def _job(**fields: Any) -> dict[str, Any]:
    return {
        "id": JOB_ID,
        "object": "batch",
        "input_files": [],
        "endpoint": "/v1/chat/completions",
        "errors": [],
        "status": "RUNNING",
        "created_at": 1_700_000_000,
        "total_requests": 10,
        "completed_requests": 5,
        "succeeded_requests": 4,
        "failed_requests": 1,
        **fields,
    }


@pytest.mark.parametrize(
    ("status", "counts"),
    [
        ("RUNNING", {"processing": 5}),
        ("SUCCESS", {}),
        ("TIMEOUT_EXCEEDED", {"expired": 5}),
        ("CANCELLED", {"canceled": 5}),
        ("FAILED", {"errored": 6}),
    ],
)
def test_counts_by_status(status: str, counts: dict[str, int]) -> None:
    snapshot = snapshot_from_body(_job(status=status, completed_at=1_700_000_100))
    expected = {"total": 10, "processing": 0, "succeeded": 4, "errored": 1, "canceled": 0}
    assert snapshot.request_counts.model_dump() == {"expired": 0, **expected, **counts}


def test_a_job_reads_its_digest_and_errors() -> None:
    body = _job(
        status="FAILED",
        total_requests=0,
        succeeded_requests=0,
        failed_requests=0,
        metadata={"batchwork_digest": "d" * 64, "batchwork_requests": "3"},
        errors=[{"message": "bad line", "count": 2}, {"message": "other"}],
        completed_at=1_700_000_100,
    )
    snapshot = snapshot_from_body(body)
    assert snapshot.digest == "d" * 64
    assert snapshot.request_counts.total == 3 and snapshot.request_counts.errored == 3
    assert [problem.message for problem in snapshot.errors] == ["bad line (2 times)", "other"]
    assert snapshot.ended_at is not None and snapshot.provider_status == "FAILED"


def test_counts_that_do_not_add_up_are_refused() -> None:
    with pytest.raises(ProtocolError):
        snapshot_from_body(_job(succeeded_requests=11))


@pytest.mark.parametrize("bad", ["batch_123", "../files", JOB_ID + "/cancel", "", 5])
def test_ids_are_uuids_before_they_go_into_a_path(bad: Any) -> None:
    with pytest.raises(UnsafeURLError):
        check_batch_id(bad)
    with pytest.raises(UnsafeURLError):
        check_file_id(bad)
    assert check_batch_id(JOB_ID) == JOB_ID


def _line(response: Any = None, error: Any = None) -> bytes:
    return orjson.dumps({"id": "batch-x-1", "custom_id": "a", "response": response, "error": error})


def _completion(content: Any, finish: str = "stop", usage: Any = None) -> dict[str, Any]:
    return {
        "status_code": 200,
        "body": {
            "id": "x",
            "object": "chat.completion",
            "model": MODEL,
            "usage": usage or {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
            "created": 1,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": finish,
                    "message": {"role": "assistant", "content": content},
                }
            ],
        },
    }


def test_a_succeeded_line() -> None:
    result = parse_result_line(_line(_completion("Paris")), JOB_ID)
    assert result is not None
    assert (result.status, result.text, result.batch_id) == (
        ResultStatus.SUCCEEDED,
        "Paris",
        JOB_ID,
    )
    assert result.usage is not None and (result.usage.input_tokens, result.usage.output_tokens) == (
        10,
        3,
    )
    assert result.message is not None and result.message["object"] == "chat.completion"


def test_content_chunks_give_their_text_and_leave_thinking_out() -> None:
    chunks = [
        {"type": "thinking", "thinking": [{"type": "text", "text": "hmm"}]},
        {"type": "text", "text": "Par"},
        {"type": "text", "text": "is"},
    ]
    result = parse_result_line(_line(_completion(chunks)))
    assert result is not None and result.text == "Paris"


@pytest.mark.parametrize(
    "usage",
    [
        {
            "prompt_tokens": 10,
            "completion_tokens": 3,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
        {"prompt_tokens": 10, "completion_tokens": 3, "prompt_token_details": {"cached_tokens": 4}},
        {"prompt_tokens": 10, "completion_tokens": 3, "num_cached_tokens": 4},
    ],
)
def test_cached_tokens_are_cache_reads(usage: dict[str, Any]) -> None:
    result = parse_result_line(_line(_completion("x", usage=usage)))
    assert result is not None and result.usage is not None
    assert (result.usage.input_tokens, result.usage.cache_read_input_tokens) == (10, 4)
    assert result.usage.cache_creation_input_tokens == 0


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", None),
        ("tool_calls", None),
        ("length", "max_tokens"),
        ("model_length", CONTEXT_WINDOW_EXCEEDED),
    ],
)
def test_finish_reasons(finish: str, stop: str | None) -> None:
    result = parse_result_line(_line(_completion("x", finish)))
    assert result is not None and result._stop == stop


def test_an_error_response_is_errored_with_its_type_and_message() -> None:
    response = {
        "status_code": 400,
        "body": {"object": "error", "message": "bad", "type": "invalid_request_error"},
    }
    result = parse_result_line(_line(response), scrub=lambda text: text.replace("bad", "<x>"))
    assert result is not None and result.status is ResultStatus.ERRORED
    assert result.error is not None
    assert (result.error.type, result.error.message, result.error.status_code) == (
        "invalid_request_error",
        "<x>",
        400,
    )


def test_a_validation_error_body_gives_its_details() -> None:
    response = {"status_code": 422, "body": {"detail": [{"msg": "m1"}, {"msg": "m2"}]}}
    result = parse_result_line(_line(response))
    assert result is not None and result.error is not None
    assert (result.error.type, result.error.message) == ("http_422", "m1; m2")


@pytest.mark.parametrize(
    ("error", "kind"), [({"message": "boom", "code": 3001}, "3001"), ("boom", "error")]
)
def test_an_error_without_a_response(error: Any, kind: str) -> None:
    result = parse_result_line(_line(None, error))
    assert result is not None and result.error is not None
    assert (result.status, result.error.type, result.error.message) == (
        ResultStatus.ERRORED,
        kind,
        "boom",
    )


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        _line(),
        _line(_completion("x"), {"message": "both"}),
        _line({"status_code": 200, "body": {"choices": []}}),
        _line({"status_code": 500, "body": "text"}),
        _line(None, {"code": 1}),
        orjson.dumps({"response": _completion("x")}),
    ],
)
def test_malformed_lines_are_refused(line: bytes) -> None:
    assert parse_result_line(line) is None
