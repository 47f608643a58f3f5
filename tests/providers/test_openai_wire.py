"""OpenAI wire format: statuses, counts, batch objects, ids, and output and error lines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect.errors import ProtocolError, UnknownStatusError, UnsafeURLError
from batchwork_prefect.models import (
    BatchProblem,
    BatchSnapshot,
    BatchStatus,
    RequestCounts,
    ResultError,
    ResultStatus,
    Usage,
)
from batchwork_prefect.providers._files import FAILED_TYPE, unrun_results
from batchwork_prefect.providers.openai import (
    METADATA_DIGEST,
    METADATA_REQUESTS,
    check_batch_id,
    check_file_id,
    map_counts,
    map_status,
    settle_counts,
    snapshot_from_body,
)
from batchwork_prefect.providers.openai.results import (
    completion_of_line,
    input_custom_id,
    parse_result_line,
)

S = BatchStatus


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("validating", S.VALIDATING),
        ("in_progress", S.IN_PROGRESS),
        ("finalizing", S.FINALIZING),
        ("completed", S.COMPLETED),
        ("failed", S.FAILED),
        ("expired", S.EXPIRED),
        ("cancelling", S.CANCELLING),
        ("cancelled", S.CANCELLED),
    ],
)
def test_status_mapping(word: str, expected: BatchStatus) -> None:
    assert map_status(word) is expected


@pytest.mark.parametrize("word", ["", "COMPLETED", "ended", "canceled", "queued", "in-progress"])
def test_unknown_status_fails_closed(word: str) -> None:
    with pytest.raises(UnknownStatusError, match="unknown batch status"):
        map_status(word)


def _counts(**values: int) -> RequestCounts:
    return RequestCounts(**values)


@pytest.mark.parametrize(
    ("status", "total", "completed", "failed", "submitted", "expected"),
    [
        (S.IN_PROGRESS, 10, 3, 2, None, _counts(total=10, processing=5, succeeded=3, errored=2)),
        (S.FINALIZING, 10, 8, 2, None, _counts(total=10, succeeded=8, errored=2)),
        (S.CANCELLING, 10, 3, 0, None, _counts(total=10, processing=7, succeeded=3)),
        (S.VALIDATING, 0, 0, 0, 4, _counts(total=4, processing=4)),
        (S.VALIDATING, 0, 0, 0, None, _counts()),
        (S.COMPLETED, 10, 9, 1, 10, _counts(total=10, succeeded=9, errored=1)),
        (S.COMPLETED, 10, 8, 1, None, _counts(total=10, succeeded=8, errored=1)),
        (S.EXPIRED, 10, 6, 1, None, _counts(total=10, succeeded=6, errored=1, expired=3)),
        (S.CANCELLED, 10, 6, 0, None, _counts(total=10, succeeded=6, canceled=4)),
        (S.FAILED, 0, 0, 0, 3, _counts(total=3, errored=3)),
        (S.FAILED, 0, 0, 0, None, _counts()),
    ],
)
def test_count_mapping(
    status: BatchStatus,
    total: int,
    completed: int,
    failed: int,
    submitted: int | None,
    expected: RequestCounts,
) -> None:
    counts = map_counts(
        status, total=total, completed=completed, failed=failed, submitted=submitted
    )
    assert counts == expected


def test_counts_that_do_not_add_up_fail_closed() -> None:
    with pytest.raises(ProtocolError, match="do not add up"):
        map_counts(S.COMPLETED, total=2, completed=2, failed=1)


@given(
    status=st.sampled_from(list(BatchStatus)),
    completed=st.integers(0, 1000),
    failed=st.integers(0, 1000),
    rest=st.integers(0, 1000),
)
def test_mapped_counts_never_lose_a_request(
    status: BatchStatus, completed: int, failed: int, rest: int
) -> None:
    total = completed + failed + rest
    counts = map_counts(status, total=total, completed=completed, failed=failed)
    placed = counts.processing + counts.finished
    assert counts.total == total
    # only a completed batch leaves requests unplaced: their missing results are reported
    assert placed == (completed + failed if status is S.COMPLETED else total)


def _snapshot(status: BatchStatus, **counts: int) -> BatchSnapshot:
    return BatchSnapshot(
        id="batch_1",
        provider="openai",
        status=status,
        request_counts=RequestCounts(**counts),
        provider_status=status.value,
    )


@pytest.mark.parametrize(
    ("status", "counts", "read", "settled"),
    [
        # OpenAI counted the requests it never ran as failed: the results tell them apart
        (
            S.EXPIRED,
            {"total": 4, "succeeded": 1, "errored": 3},
            (1, 2, 0),
            {"total": 4, "succeeded": 1, "errored": 1, "expired": 2},
        ),
        (
            S.CANCELLED,
            {"total": 4, "succeeded": 1, "errored": 3},
            (0, 0, 3),
            {"total": 4, "succeeded": 1, "canceled": 3},
        ),
        (
            S.COMPLETED,
            {"total": 4, "succeeded": 1, "errored": 3},
            (1, 1, 1),
            {"total": 4, "succeeded": 1, "errored": 1, "expired": 1, "canceled": 1},
        ),
        # the counts already agree, or the results cannot settle them: left as they are
        (S.EXPIRED, {"total": 4, "succeeded": 1, "errored": 1, "expired": 2}, (1, 2, 0), None),
        (S.EXPIRED, {"total": 4, "succeeded": 1, "errored": 3}, (3, 1, 0), None),
        (S.EXPIRED, {"total": 4, "succeeded": 1, "errored": 3}, (1, 1, 0), None),
        (S.FAILED, {"total": 4, "errored": 4}, (0, 4, 0), None),
        (S.IN_PROGRESS, {"total": 4, "processing": 3, "errored": 1}, (0, 1, 0), None),
    ],
)
def test_settled_counts(
    status: BatchStatus,
    counts: dict[str, int],
    read: tuple[int, int, int],
    settled: dict[str, int] | None,
) -> None:
    snapshot = _snapshot(status, **counts)
    errored, expired, canceled = read
    found = settle_counts(snapshot, errored=errored, expired=expired, canceled=canceled)
    if settled is None:
        assert found is snapshot
    else:
        assert found.request_counts == RequestCounts(**settled)
        assert found.model_copy(update={"request_counts": snapshot.request_counts}) == snapshot


def _batch(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "batch_abc123",
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "errors": None,
        "input_file_id": "file-in1",
        "completion_window": "24h",
        "status": "completed",
        "output_file_id": "file-out1",
        "error_file_id": None,
        "created_at": 1_790_000_000,
        "in_progress_at": 1_790_000_001,
        "expires_at": 1_790_086_400,
        "finalizing_at": 1_790_000_100,
        "completed_at": 1_790_000_200,
        "failed_at": None,
        "expired_at": None,
        "cancelling_at": None,
        "cancelled_at": None,
        "request_counts": {"total": 3, "completed": 2, "failed": 1},
        "metadata": {METADATA_DIGEST: "d" * 64, METADATA_REQUESTS: "3"},
        "usage": {"input_tokens": 1},
        "new_field": {"ignored": True},
    }
    body.update(overrides)
    return body


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_a_batch_object_as_a_snapshot() -> None:
    snapshot = snapshot_from_body(_batch(), retry_after=2)
    assert snapshot.id == "batch_abc123"
    assert snapshot.provider == "openai"
    assert snapshot.status is S.COMPLETED
    assert snapshot.provider_status == "completed"
    assert snapshot.request_counts == RequestCounts(total=3, succeeded=2, errored=1)
    assert snapshot.created_at == _at(1_790_000_000)
    assert snapshot.ended_at == _at(1_790_000_200)
    assert snapshot.expires_at == _at(1_790_086_400)
    assert snapshot.digest == "d" * 64
    assert snapshot.errors == ()
    assert snapshot.retry_after == 2.0
    assert snapshot.results_url is None
    assert BatchSnapshot.model_validate_json(snapshot.model_dump_json()) == snapshot


@pytest.mark.parametrize(
    ("status", "field"),
    [("failed", "failed_at"), ("expired", "expired_at"), ("cancelled", "cancelled_at")],
)
def test_the_end_time_is_the_one_of_how_it_ended(status: str, field: str) -> None:
    body = _batch(status=status, completed_at=None, **{field: 1_790_000_500})
    assert snapshot_from_body(body).ended_at == _at(1_790_000_500)


def test_a_cancel_shows_as_cancel_initiated() -> None:
    body = _batch(status="cancelling", cancelling_at=1_790_000_050, completed_at=None)
    snapshot = snapshot_from_body(body)
    assert snapshot.cancel_initiated_at == _at(1_790_000_050)
    assert snapshot.ended_at is None


def test_a_batch_made_elsewhere_has_no_digest_and_its_reported_counts() -> None:
    body = _batch(status="validating", metadata=None, request_counts=None)
    snapshot = snapshot_from_body(body)
    assert snapshot.digest is None
    assert snapshot.request_counts == RequestCounts()


def test_a_validating_batch_counts_the_requests_recorded_at_create() -> None:
    body = _batch(status="validating", request_counts={"total": 0, "completed": 0, "failed": 0})
    assert snapshot_from_body(body).request_counts == RequestCounts(total=3, processing=3)


def test_a_failed_batch_keeps_its_errors_and_every_request_errored() -> None:
    errors = {
        "object": "list",
        "data": [
            {
                "code": "missing_required_parameter",
                "line": 2,
                "message": "Missing required parameter: 'messages'.",
                "param": "body.messages",
            },
            {"code": "too_many_lines", "line": None, "message": "Too many.", "param": None},
        ],
    }
    body = _batch(
        status="failed",
        errors=errors,
        output_file_id=None,
        completed_at=None,
        failed_at=1_790_000_010,
        request_counts={"total": 0, "completed": 0, "failed": 0},
    )
    snapshot = snapshot_from_body(body)
    assert snapshot.status is S.FAILED
    assert snapshot.request_counts == RequestCounts(total=3, errored=3)
    assert snapshot.errors == (
        BatchProblem(
            code="missing_required_parameter",
            message="Missing required parameter: 'messages'.",
            line=2,
            param="body.messages",
        ),
        BatchProblem(code="too_many_lines", message="Too many."),
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"id": None},
        {"status": "paused"},
        {"request_counts": {"total": 3, "completed": -1, "failed": 0}},
        {"request_counts": {"total": 3, "completed": True, "failed": 0}},
        {"request_counts": {"total": 1, "completed": 2, "failed": 0}},
        {"request_counts": "3"},
        {"created_at": "2026-01-01T00:00:00Z"},
        {"errors": {"data": "broken"}},
        {"errors": {"data": [{"code": 5, "message": "m"}]}},
    ],
)
def test_a_malformed_batch_object_fails_closed(changes: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError):
        snapshot_from_body(_batch(**changes))


@pytest.mark.parametrize("good", ["batch_abc", "batch_69a1b2_c-D"])
def test_good_batch_ids(good: str) -> None:
    assert check_batch_id(good) == good


@pytest.mark.parametrize(
    "bad",
    ["", "msgbatch_1", "batch_", "batch_a/b", "batch_a?x=1", "batch_a\n", "batch_ a", "../batch_a"],
)
def test_unsafe_batch_ids_are_refused(bad: str) -> None:
    with pytest.raises(UnsafeURLError):
        check_batch_id(bad)


@pytest.mark.parametrize("good", ["file-abc", "file-9aZ_x-1"])
def test_good_file_ids(good: str) -> None:
    assert check_file_id(good) == good


@pytest.mark.parametrize("bad", ["", "file-", "file_abc", "file-a/b", "file-a#b", "file-a\n"])
def test_unsafe_file_ids_are_refused(bad: str) -> None:
    with pytest.raises(UnsafeURLError):
        check_file_id(bad)


def _completion(content: str | None = "Paris", usage: Any = "default") -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }
    if usage == "default":
        usage = {
            "prompt_tokens": 20,
            "completion_tokens": 3,
            "total_tokens": 23,
            "prompt_tokens_details": {"cached_tokens": 16},
        }
    if usage is not None:
        body["usage"] = usage
    return body


def _line(custom_id: str = "fr", response: Any = None, error: Any = None, **extra: Any) -> bytes:
    entry = {"id": "batch_req_1", "custom_id": custom_id, "response": response, "error": error}
    entry.update(extra)
    return orjson.dumps(entry)


def _ok(body: Any, status: int = 200) -> dict[str, Any]:
    return {"status_code": status, "request_id": "req_1", "body": body}


def test_a_200_line_succeeds_with_text_usage_and_the_completion_as_message() -> None:
    line = _line(response=_ok(_completion()))
    result = parse_result_line(line, "batch_1")
    assert result is not None
    assert result.status is ResultStatus.SUCCEEDED
    assert result.text == "Paris"
    assert result.usage == Usage(input_tokens=20, output_tokens=3, cache_read_input_tokens=16)
    assert result.message == _completion()
    assert result.raw_line == line
    assert result.batch_id == "batch_1"
    assert result.error is None
    assert orjson.loads(bytes(completion_of_line.raw(line))) == _completion()


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (None, Usage()),
        ({"prompt_tokens": 5, "completion_tokens": None}, Usage(input_tokens=5)),
        (
            {"prompt_tokens": 5, "completion_tokens": 1, "prompt_tokens_details": None},
            Usage(input_tokens=5, output_tokens=1),
        ),
    ],
)
def test_missing_or_null_token_counts_read_as_zero(usage: Any, expected: Usage) -> None:
    result = parse_result_line(_line(response=_ok(_completion(usage=usage))))
    assert result is not None and result.usage == expected


def test_a_reply_without_content_has_empty_text() -> None:
    result = parse_result_line(_line(response=_ok(_completion(content=None))))
    assert result is not None and result.text == ""


def test_a_non_200_line_is_errored_with_the_api_error() -> None:
    error = {
        "message": "Invalid 'max_completion_tokens'.",
        "type": "invalid_request_error",
        "param": "max_completion_tokens",
        "code": "integer_below_min_value",
    }
    result = parse_result_line(_line(response=_ok({"error": error}, status=400)))
    assert result is not None
    assert result.status is ResultStatus.ERRORED
    assert result.error == ResultError(
        type="invalid_request_error",
        message="Invalid 'max_completion_tokens'.",
        request_id="req_1",
        status_code=400,  # kept: the retry rounds tell passing faults by it
    )
    assert result.message is None and result.text is None and result.usage is None


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"message": "m", "type": None, "code": "rate_limit_exceeded"}, "rate_limit_exceeded"),
        ({"message": "m"}, "http_500"),
    ],
)
def test_an_api_error_without_a_type_is_named_by_its_code_or_status(
    error: dict[str, Any], kind: str
) -> None:
    result = parse_result_line(_line(response=_ok({"error": error}, status=500)))
    assert result is not None and result.error is not None
    assert result.error.type == kind


@pytest.mark.parametrize(
    ("code", "status"),
    [("batch_expired", ResultStatus.EXPIRED), ("batch_cancelled", ResultStatus.CANCELED)],
)
def test_requests_the_batch_did_not_run(code: str, status: ResultStatus) -> None:
    result = parse_result_line(_line(error={"code": code, "message": "not run"}))
    assert result is not None
    assert result.status is status
    assert result.error is None and result.message is None


def test_another_line_error_is_errored_with_its_code() -> None:
    result = parse_result_line(_line(error={"code": "request_timeout", "message": "Too slow."}))
    assert result is not None and result.status is ResultStatus.ERRORED
    assert result.error == ResultError(type="request_timeout", message="Too slow.")


def test_error_text_goes_through_the_scrubber() -> None:
    line = _line(response=_ok({"error": {"message": "key sk-secret", "type": "t"}}, 401))
    result = parse_result_line(line, scrub=lambda text: text.replace("sk-secret", "<redacted>"))
    assert result is not None and result.error is not None
    assert result.error.message == "key <redacted>"


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[]",
        _line(custom_id=""),
        orjson.dumps({"response": _ok(_completion()), "error": None}),
        _line(),  # neither response nor error
        _line(response=_ok(_completion()), error={"code": "batch_expired", "message": ""}),
        _line(response=_ok({"choices": []})),
        _line(response=_ok({"choices": [{"message": {"content": 5}}]})),
        _line(response=_ok({"no": "choices"})),
        _line(response=_ok(None)),
        _line(response=_ok(_completion(usage={"prompt_tokens": -1}))),
        _line(response=_ok(_completion(usage={"prompt_tokens": 1.5}))),
        _line(response=_ok({"message": "no error object"}, status=500)),
        _line(response={"status_code": "200", "body": _completion()}),
        _line(error={"message": "no code"}),
        _line(custom_id=7, response=_ok(_completion())),  # type: ignore[arg-type]
    ],
)
def test_malformed_lines_are_refused(line: bytes) -> None:
    assert parse_result_line(line) is None


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    parse_result_line(data)


def test_an_input_lines_custom_id() -> None:
    assert input_custom_id(b'{"custom_id":"a","method":"POST","url":"/v1/x","body":{}}') == "a"
    assert input_custom_id(b'{"method":"POST"}') is None
    assert input_custom_id(b"garbage") is None


PROBLEMS = (
    BatchProblem(code="missing_required_parameter", message="Missing 'messages'.", line=2),
    BatchProblem(code="too_large", message="Too large."),
)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [(S.EXPIRED, ResultStatus.EXPIRED), (S.CANCELLED, ResultStatus.CANCELED)],
)
def test_requests_in_neither_file_end_as_the_batch_did(
    status: BatchStatus, outcome: ResultStatus
) -> None:
    seen = {"b"}
    results = list(unrun_results(status, ["a", "b", "c"], seen, "batch_1"))
    assert [(r.custom_id, r.status, r.error) for r in results] == [
        ("a", outcome, None),
        ("c", outcome, None),
    ]
    assert seen == {"a", "b", "c"}


@pytest.mark.parametrize("status", [S.COMPLETED, S.IN_PROGRESS])
def test_nothing_is_made_up_for_a_batch_that_ran(status: BatchStatus) -> None:
    assert list(unrun_results(status, ["a"], set(), "batch_1", PROBLEMS)) == []


def test_a_failed_batch_errors_every_request_with_its_reason() -> None:
    results = list(unrun_results(S.FAILED, ["a", "b", "c"], set(), "batch_1", PROBLEMS))
    assert [r.status for r in results] == [ResultStatus.ERRORED] * 3
    named = results[1].error
    assert named == ResultError(type="missing_required_parameter", message="Missing 'messages'.")
    general = results[0].error
    assert general is not None and general == results[2].error
    assert general.type == FAILED_TYPE
    assert "line 2: missing_required_parameter: Missing 'messages'." in general.message
    assert "too_large: Too large." in general.message
