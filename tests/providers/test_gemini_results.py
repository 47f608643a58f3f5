"""Gemini's result mapping: response lines, inline responses, usage, errors, failing closed."""

from __future__ import annotations

import orjson
import pytest

from batchwork_prefect.models import (
    BatchSnapshot,
    BatchStatus,
    RequestCounts,
    ResultStatus,
    Usage,
)
from batchwork_prefect.providers.gemini import (
    FAILED_TYPE,
    inline_lines,
    parse_result_line,
    settle_counts,
    undone,
    unrun_results,
)


def _line(**fields: object) -> bytes:
    return orjson.dumps(fields)


RESPONSE = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "thinking...", "thought": True},
                    {"text": "Hel"},
                    {"text": "lo"},
                ],
            },
            "finishReason": "STOP",
        },
        {"content": {"parts": [{"text": "other"}]}, "finishReason": "STOP"},
    ],
    "usageMetadata": {
        "promptTokenCount": 100,
        "candidatesTokenCount": 20,
        "thoughtsTokenCount": 30,
        "toolUsePromptTokenCount": 5,
        "cachedContentTokenCount": 40,
        "totalTokenCount": 155,
    },
    "modelVersion": "gemini-2.5-flash",
}


def test_a_response_is_succeeded_with_the_first_candidates_text_parts_joined() -> None:
    line = _line(key="a", response=RESPONSE)
    result = parse_result_line(line, "batches/b1")
    assert result is not None
    assert result.custom_id == "a"
    assert result.status is ResultStatus.SUCCEEDED
    assert result.text == "Hello"  # thought parts left out, the second candidate ignored
    assert result.batch_id == "batches/b1"
    assert result.message == RESPONSE


def test_usage_prompt_and_tool_prompt_are_input_candidates_and_thoughts_are_output() -> None:
    result = parse_result_line(_line(key="a", response=RESPONSE))
    assert result is not None
    assert result.usage == Usage(input_tokens=105, output_tokens=50, cache_read_input_tokens=40)


def test_a_response_without_usage_has_zero_usage() -> None:
    result = parse_result_line(_line(key="a", response={"candidates": []}))
    assert result is not None and result.usage == Usage()


@pytest.mark.parametrize(
    ("response", "text", "stop"),
    [
        (
            {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "MAX_TOKENS"}]},
            "x",
            "max_tokens",
        ),
        ({"candidates": [{"finishReason": "SAFETY"}]}, "", "refusal"),
        (
            {"candidates": [{"content": {"parts": [{"text": "y"}]}, "finishReason": "RECITATION"}]},
            "y",
            "refusal",
        ),
        ({"promptFeedback": {"blockReason": "SAFETY"}}, "", "refusal"),
        ({"candidates": [{"content": {"parts": [{"functionCall": {"name": "f"}}]}}]}, "", None),
    ],
)
def test_stop_reasons(response: dict[str, object], text: str, stop: str | None) -> None:
    result = parse_result_line(_line(key="a", response=response))
    assert result is not None
    assert result.status is ResultStatus.SUCCEEDED
    assert (result.text, result._stop) == (text, stop)


def test_an_error_is_errored_with_its_status_code_and_scrubbed_message() -> None:
    line = _line(
        key="b", error={"code": 3, "message": "bad key sk-1", "status": "INVALID_ARGUMENT"}
    )
    result = parse_result_line(line, "batches/b1", scrub=lambda text: text.replace("sk-1", "***"))
    assert result is not None
    assert result.status is ResultStatus.ERRORED
    assert result.error is not None
    assert (result.error.type, result.error.message) == ("INVALID_ARGUMENT", "bad key ***")
    assert result.error.status_code is None  # a google.rpc.Code, not an HTTP status
    assert result.message is None


@pytest.mark.parametrize(
    ("code", "kind"), [(13, "INTERNAL"), (3, "INVALID_ARGUMENT"), (99, "code_99")]
)
def test_an_error_without_status_is_typed_by_its_rpc_code_name(code: int, kind: str) -> None:
    result = parse_result_line(_line(key="b", error={"code": code, "message": "m"}))
    assert result is not None and result.error is not None
    assert result.error.type == kind


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        _line(key="a"),
        _line(key="a", response={}, error={"code": 1}),
        _line(key="", response={}),
        _line(response={}),
        _line(key="a", response={"usageMetadata": {"promptTokenCount": -1}}),
        _line(key="a", response={"usageMetadata": {"promptTokenCount": "7"}}),
    ],
)
def test_malformed_lines_are_refused(line: bytes) -> None:
    assert parse_result_line(line) is None


def test_inline_responses_are_read_as_result_lines_by_their_metadata_key() -> None:
    output = {
        "inlinedResponses": {
            "inlinedResponses": [
                {"response": RESPONSE, "metadata": {"key": "a"}},
                {"error": {"code": 3, "message": "m"}, "metadata": {"key": "b"}},
                {"response": RESPONSE},
            ]
        }
    }
    lines = list(inline_lines(output))
    first, second = (parse_result_line(line) for line in lines[:2])
    assert first is not None and first.custom_id == "a" and first.text == "Hello"
    assert second is not None and second.status is ResultStatus.ERRORED
    assert parse_result_line(lines[2]) is None  # no key: reported as an unreadable line


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (BatchStatus.CANCELLED, ResultStatus.CANCELED),
        (BatchStatus.EXPIRED, ResultStatus.EXPIRED),
        (BatchStatus.FAILED, ResultStatus.ERRORED),
    ],
)
def test_requests_an_ended_batch_never_ran_get_its_outcome(
    status: BatchStatus, outcome: ResultStatus
) -> None:
    results = list(unrun_results(status, ["a", "b", "c"], {"b"}, "batches/x", "INTERNAL: boom"))
    assert [(r.custom_id, r.status) for r in results] == [("a", outcome), ("c", outcome)]
    if outcome is ResultStatus.ERRORED:
        assert results[0].error is not None
        assert results[0].error.type == FAILED_TYPE
        assert "INTERNAL: boom" in results[0].error.message


def test_a_succeeded_batch_gives_no_results_for_missing_requests() -> None:
    assert list(unrun_results(BatchStatus.COMPLETED, ["a"], set(), "batches/x", "")) == []


@pytest.mark.parametrize(
    ("batch", "error", "outcome"),
    [
        (BatchStatus.CANCELLED, {"code": 1, "message": "m"}, ResultStatus.CANCELED),
        (BatchStatus.EXPIRED, {"code": 4, "message": "m"}, ResultStatus.EXPIRED),
        (BatchStatus.EXPIRED, {"code": 1, "message": "m"}, ResultStatus.ERRORED),
        (BatchStatus.COMPLETED, {"code": 1, "message": "m"}, ResultStatus.ERRORED),
        (BatchStatus.CANCELLED, {"code": 13, "message": "m"}, ResultStatus.ERRORED),
    ],
)
def test_an_error_line_is_an_unrun_request_only_where_the_batch_ended_that_way(
    batch: BatchStatus, error: dict[str, object], outcome: ResultStatus
) -> None:
    item = parse_result_line(_line(key="a", error=error))
    assert item is not None
    assert undone(item, batch).status is outcome


def _snapshot(counts: RequestCounts) -> BatchSnapshot:
    return BatchSnapshot(
        id="batches/x",
        provider="gemini",
        status=BatchStatus.EXPIRED,
        request_counts=counts,
        provider_status="BATCH_STATE_EXPIRED",
    )


def test_an_ended_batchs_counts_are_settled_by_the_results_read() -> None:
    stats = _snapshot(RequestCounts(total=4, succeeded=1, errored=3))
    tally = {ResultStatus.SUCCEEDED: 0, ResultStatus.ERRORED: 0, ResultStatus.CANCELED: 0}
    settled = settle_counts(stats, {**tally, ResultStatus.EXPIRED: 4})
    assert settled.request_counts == RequestCounts(total=4, expired=4)
    # results that do not account for every request leave the snapshot as it is
    assert settle_counts(stats, {**tally, ResultStatus.EXPIRED: 3}) is stats
