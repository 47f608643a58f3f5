"""Retrying the requests that failed for passing reasons, in plain Python: which ones
(`retry_reason`), sending just those again (`job.retry_failed`, `subset`), and one result
per request afterwards (`BatchResults.merge`, `attempts`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect import (
    BatchResult,
    BatchResults,
    ConfigurationError,
    InvalidBatchError,
    ResultError,
    ResultStatus,
    Usage,
    batch,
    get_batch,
)
from batchwork_prefect.core import build_parts, content_digest, retry_reason, retryable, subset
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.outputs import INVALID_OUTPUT, OutputType, typed_all
from batchwork_prefect.providers.anthropic import AnthropicProvider
from batchwork_prefect.providers.base import BatchLimits
from tests.support import API_KEY


def _errored(kind: str, status_code: int | None = None) -> BatchResult:
    error = ResultError(type=kind, message="m", status_code=status_code)
    return BatchResult(custom_id="r", status="errored", error=error)


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        (BatchResult(custom_id="r", status="succeeded", text="ok"), None),
        (BatchResult(custom_id="r", status="expired"), "expired"),
        (BatchResult(custom_id="r", status="canceled"), None),  # someone asked for it
        (BatchResult(custom_id="r", status="errored"), None),  # no error to judge: not paid twice
        # Anthropic's results lines: the inner error type, no HTTP status
        (_errored("overloaded_error"), "overloaded_error"),
        (_errored("api_error"), "api_error"),
        (_errored("rate_limit_error"), "rate_limit_error"),
        (_errored("timeout_error"), "timeout_error"),
        (_errored("invalid_request_error"), None),
        (_errored("authentication_error"), None),
        (_errored("billing_error"), None),
        (_errored("permission_error"), None),
        (_errored("not_found_error"), None),
        (_errored("request_too_large"), None),
        (_errored("a_type_not_known_here"), None),  # unknown: fail closed
        # OpenAI's lines: the HTTP status decides where there is one
        (_errored("server_error", 500), "server_error (HTTP 500)"),
        (_errored("http_503", 503), "http_503 (HTTP 503)"),
        (_errored("overloaded", 529), "overloaded (HTTP 529)"),
        (_errored("rate_limit_exceeded", 429), "rate_limit_exceeded (HTTP 429)"),
        (_errored("timeout", 408), "timeout (HTTP 408)"),
        (_errored("invalid_request_error", 400), None),
        (_errored("api_error", 400), None),  # a request's own fault, whatever its type says
        (_errored("invalid_api_key", 401), None),
        (_errored("not_found", 404), None),
        (_errored("context_length_exceeded", 413), None),
        (_errored("request_timeout"), "request_timeout"),  # a line error: not run in time
        (_errored("batch_failed"), None),  # the batch failed validation
        # a typed batch's answer off its type (not JSON, off schema, refused, cut): paid for,
        # and another answer may fit
        (_errored("invalid_output"), "invalid_output"),
        (_errored("Invalid_Output"), None),  # the exact type only; unknown: fail closed
    ],
)
def test_which_failures_are_sent_again(result: BatchResult, reason: str | None) -> None:
    assert retry_reason(result) == reason


def test_retryable_names_each_request_once_in_order() -> None:
    results = [
        BatchResult(custom_id="a", status="expired"),
        BatchResult(custom_id="b", status="succeeded", text="x"),
        BatchResult(
            custom_id="c", status="errored", error=ResultError(type="api_error", message="")
        ),
    ]
    assert retryable(results) == {"a": "expired", "c": "api_error"}


def test_a_typed_answer_that_did_not_validate_is_retryable() -> None:
    output = OutputType.of({"type": "object", "properties": {"a": {"type": "integer"}}})
    assert output is not None
    answers = [
        BatchResult(custom_id=c, status="succeeded", text=t, usage=Usage(output_tokens=3))
        for c, t in (("ok", '{"a": 1}'), ("off", '[{"a": 1}]'), ("cut", '{"a": '))
    ]
    checked = typed_all(answers, output)
    assert retryable(checked) == {"off": INVALID_OUTPUT, "cut": INVALID_OUTPUT}
    assert retryable(answers) == {}  # untyped, the same answers are answers


def _result(custom_id: str, status: str = "succeeded", batch_id: str = "b1") -> BatchResult:
    return BatchResult(custom_id=custom_id, status=status, text=custom_id, batch_id=batch_id)


def test_a_merge_puts_each_retry_in_its_requests_place_and_counts_attempts() -> None:
    first = BatchResults(
        batch_ids=["b1"],
        results=[_result("a"), _result("b", "expired"), _result("c", "errored")],
    )
    second = BatchResults(
        batch_ids=["b2"], results=[_result("c", batch_id="b2"), _result("b", "expired", "b2")]
    )
    third = BatchResults(batch_ids=["b3"], results=[_result("b", batch_id="b3")])
    merged = first.merge(second).merge(third)
    assert [r.custom_id for r in merged.values()] == ["a", "b", "c"]
    assert [r.attempts for r in merged.values()] == [1, 3, 2]
    assert [r.status for r in merged.values()] == ["succeeded"] * 3
    assert merged["b"].batch_id == "b3" and merged["c"].batch_id == "b2"
    assert merged.batch_ids == ["b1", "b2", "b3"]
    # the attempts survive the persisted JSON
    loaded = BatchResults.model_validate_json(merged.model_dump_json())
    assert loaded == merged and loaded["b"].attempts == 3


@given(rounds=st.lists(st.sets(st.sampled_from("abcdef"), min_size=1), min_size=1, max_size=5))
def test_merged_rounds_hold_one_result_per_request_with_its_attempts(
    rounds: list[set[str]],
) -> None:
    every = sorted(set().union(*rounds))
    merged = BatchResults(batch_ids=["r0"], results=[_result(c, batch_id="r0") for c in every])
    for number, retried in enumerate(rounds, start=1):
        retry = [_result(c, batch_id=f"r{number}") for c in sorted(retried)]
        merged = merged.merge(BatchResults(batch_ids=[f"r{number}"], results=retry))
    assert [r.custom_id for r in merged.values()] == every
    for result in merged.values():
        assert result.attempts == 1 + sum(result.custom_id in retried for retried in rounds)


def test_a_subset_keeps_the_requests_as_encoded_in_their_order_and_fits_the_limits() -> None:
    provider = AnthropicProvider(api_key=API_KEY, base_url="http://127.0.0.1:9")
    requests = [
        {"custom_id": f"q{i}", "prompt": f"Question {i}", "max_tokens": 9} for i in range(6)
    ]
    built = build_parts(provider, "claude-x", requests, limits=BatchLimits(3, 10**6))
    again = subset(built, {"q5", "q1", "q4"}, BatchLimits(2, 10**6))
    assert [part.custom_ids for part in again.parts] == [("q1", "q4"), ("q5",)]
    sent = {c: e for p in built.parts for c, e in zip(p.custom_ids, p.encoded, strict=True)}
    assert [e for p in again.parts for e in p.encoded] == [sent["q1"], sent["q4"], sent["q5"]]
    assert again.attempt == 2
    assert again.parts[1].digest == content_digest("anthropic", "claude-x", [sent["q5"]], 2)
    assert again.parts[1].digest != content_digest("anthropic", "claude-x", [sent["q5"]])
    with pytest.raises(InvalidBatchError, match="'q9'"):
        subset(built, {"q1", "q9"}, BatchLimits(2, 10**6))


REQUESTS = [
    {"custom_id": "ok", "prompt": "Capital of France? One word."},
    {"custom_id": "late", "prompt": "[[emulate:expired]] Capital of Japan?"},
    {"custom_id": "busy", "prompt": "[[emulate:errored:overloaded_error]] Capital of Peru?"},
    {"custom_id": "bad", "prompt": "[[emulate:errored:invalid_request_error]] Capital?"},
]


def test_retry_failed_sends_just_the_passing_failures_again_and_merges(
    emulator: Emulator,
) -> None:
    with batch(
        "anthropic/claude-x",
        REQUESTS,
        defaults={"max_tokens": 16},
        api_key=API_KEY,
        base_url=emulator.base_url,
    ) as job:
        job.wait(poll_interval=0.01)
        first = job.collect()
        retry = job.retry_failed(first)
        assert retry is not None
        assert retry.request_counts.total == 2
        assert [ids for ids in retry._custom_ids or []] == [("late", "busy")]
        # the bodies as first sent, not rebuilt: the same params, whatever defaults did
        assert job._built is not None and retry._built is not None
        sent = dict(zip(job._built.parts[0].custom_ids, job._built.parts[0].encoded, strict=True))
        assert retry._built.parts[0].encoded == (sent["late"], sent["busy"])
        retry.wait(poll_interval=0.01)
        merged = first.merge(retry.collect())
        again = retry.retry_failed(merged)  # the markers fail every time here
        assert again is not None and again.request_counts.total == 2
    assert emulator.batches_created == 3
    # one result per request, each in the place the first read gave it
    assert [r.custom_id for r in merged.values()] == [r.custom_id for r in first.values()]
    assert {r.custom_id: r.attempts for r in merged.values()} == {
        "ok": 1,
        "late": 2,
        "busy": 2,
        "bad": 1,
    }
    assert merged.batch_ids == [job.id, retry.id]


def test_nothing_to_retry_submits_nothing(emulator: Emulator) -> None:
    with batch(
        "anthropic/claude-x", REQUESTS[:1], api_key=API_KEY, base_url=emulator.base_url
    ) as job:
        job.wait(poll_interval=0.01)
        assert job.retry_failed(job.collect()) is None
    assert emulator.batches_created == 1


def test_an_openai_server_error_line_is_retried_and_a_bad_request_is_not(
    emulator: Emulator,
) -> None:
    requests = [
        {"custom_id": "five", "prompt": "x [[emulate:errored]]"},  # a 500 server_error line
        {"custom_id": "four", "prompt": "x [[emulate:errored:invalid_request_error]]"},
    ]
    with batch(
        "openai/gpt-4o-mini", requests, api_key=API_KEY, base_url=emulator.openai_base_url
    ) as job:
        job.wait(poll_interval=0.01)
        first = job.collect()
        assert first["five"].error is not None and first["five"].error.status_code == 500
        assert first["four"].error is not None and first["four"].error.status_code == 400
        retry = job.retry_failed(first)
        assert retry is not None and retry.request_counts.total == 1
        retry.wait(poll_interval=0.01)
        merged = first.merge(retry.collect())
    assert merged["five"].attempts == 2 and merged["four"].attempts == 1


def test_a_job_attached_by_id_cannot_retry(emulator: Emulator) -> None:
    job = batch("anthropic/claude-x", REQUESTS, api_key=API_KEY, base_url=emulator.base_url)
    job.wait(poll_interval=0.01)
    results = job.collect()
    attached = get_batch(job.id, api_key=API_KEY, base_url=emulator.base_url)
    with pytest.raises(ConfigurationError, match="batch\\(\\)"):
        attached.retry_failed(results)
    job.close()
    attached.close()
    assert ResultStatus.EXPIRED in {r.status for r in results.values()}


def test_of_rounds_merges_each_round_over_the_ones_before() -> None:
    from batchwork_prefect import BatchResult, BatchResults

    def one(custom_id: str, status: str) -> BatchResult:
        return BatchResult(custom_id=custom_id, status=status)

    rounds = [
        BatchResults(results=[one("a", "expired"), one("b", "expired"), one("c", "succeeded")]),
        BatchResults(results=[one("a", "succeeded"), one("b", "expired")]),
        BatchResults(results=[one("b", "succeeded")]),
    ]
    merged = BatchResults.of_rounds(rounds)
    assert [(r.custom_id, r.status.value, r.attempts) for r in merged.values()] == [
        ("a", "succeeded", 2),
        ("b", "succeeded", 3),
        ("c", "succeeded", 1),
    ]
    assert BatchResults.of_rounds(rounds[:1]) is rounds[0]
