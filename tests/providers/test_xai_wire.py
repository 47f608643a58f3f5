"""xAI's batch objects and results, read from the REST reference's own examples."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from batchwork_prefect import ProtocolError, UnsafeURLError
from batchwork_prefect.models import BatchStatus, ResultStatus, Usage
from batchwork_prefect.providers.xai import (
    FILL_INTERRUPTED,
    batch_name,
    check_batch_id,
    parse_name,
    parse_result,
    snapshot_from_body,
)

DIGEST = "ab" * 32

# GET /v1/batches/{batch_id}: the reference's response example, verbatim
REFERENCE_BATCH: dict[str, Any] = {
    "batch_id": "batch_1934e8b5-f3dc-45f1-8329-9841b0aee9d8",
    "name": "My New Batch",
    "create_time": "2025-11-11",
    "expire_time": "2025-11-12",
    "create_api_key_id": "********-****-****-****-************",
    "cancel_time": None,
    "cancel_by_xai_message": None,
    "state": {
        "num_requests": 0,
        "num_pending": 0,
        "num_success": 0,
        "num_error": 0,
        "num_cancelled": 0,
    },
}
# GET /v1/batches/{batch_id}/results: the reference's response example's one result, verbatim
REFERENCE_RESULT: dict[str, Any] = {
    "batch_request_id": "test_request_0",
    "batch_result": {
        "response": {
            "chat_get_completion": {
                "id": "e7c2162b-ca73-c181-2364-1feabef778fe_us-east-1",
                "object": "chat.completion",
                "created": 1762801725,
                "model": "grok-4",
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": "101 multiplied by 3 is 303. If you have more "
                            "calculations or questions, feel free to ask!",
                            "refusal": None,
                        },
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": 706,
                    "completion_tokens": 22,
                    "total_tokens": 827,
                    "prompt_tokens_details": {
                        "text_tokens": 706,
                        "audio_tokens": 0,
                        "image_tokens": 0,
                        "cached_tokens": 679,
                    },
                    "completion_tokens_details": {
                        "reasoning_tokens": 99,
                        "audio_tokens": 0,
                        "accepted_prediction_tokens": 0,
                        "rejected_prediction_tokens": 0,
                    },
                    "num_sources_used": 0,
                },
                "system_fingerprint": "fp_1944a19e1f",
            }
        }
    },
}
EARLY = datetime(2025, 11, 11, 12, tzinfo=UTC)


def _batch(state: dict[str, int], **fields: Any) -> dict[str, Any]:
    return {**REFERENCE_BATCH, "state": {**REFERENCE_BATCH["state"], **state}, **fields}


def test_the_reference_batch_reads_as_a_batch_waiting_for_requests() -> None:
    snapshot = snapshot_from_body(REFERENCE_BATCH, now=EARLY)
    assert snapshot.id == "batch_1934e8b5-f3dc-45f1-8329-9841b0aee9d8"
    assert snapshot.status is BatchStatus.VALIDATING
    assert snapshot.created_at == datetime(2025, 11, 11, tzinfo=UTC)
    assert snapshot.expires_at == datetime(2025, 11, 12, tzinfo=UTC)
    assert snapshot.digest is None  # not a name a create gave
    assert snapshot.provider_status == "0 of 0 pending"


@pytest.mark.parametrize(
    ("state", "fields", "status", "counts"),
    [
        (
            {"num_requests": 4, "num_pending": 3, "num_success": 1},
            {},
            "in_progress",
            (3, 1, 0, 0, 0),
        ),
        ({"num_requests": 4, "num_success": 3, "num_error": 1}, {}, "completed", (0, 3, 1, 0, 0)),
        (
            {"num_requests": 4, "num_pending": 2, "num_success": 2},
            {"cancel_time": "2025-11-11T13:00:00Z"},
            "cancelling",
            (2, 2, 0, 0, 0),
        ),
        (
            {"num_requests": 4, "num_cancelled": 2, "num_success": 2},
            {"cancel_time": "2025-11-11T13:00:00Z"},
            "cancelled",
            (0, 2, 0, 2, 0),
        ),
        (
            {"num_requests": 4, "num_pending": 3, "num_success": 1},
            {"expire_time": "2025-11-11T12:00:00Z"},
            "expired",
            (0, 1, 0, 0, 3),
        ),
    ],
)
def test_counters_map_to_a_status_and_the_shared_counts(
    state: dict[str, int],
    fields: dict[str, Any],
    status: str,
    counts: tuple[int, int, int, int, int],
) -> None:
    snapshot = snapshot_from_body(_batch(state, **fields), now=EARLY)
    got = snapshot.request_counts
    assert snapshot.status is BatchStatus(status)
    assert (got.processing, got.succeeded, got.errored, got.canceled, got.expired) == counts
    assert got.total == 4


def test_counters_that_do_not_add_up_fail_closed() -> None:
    with pytest.raises(ProtocolError, match="do not add up"):
        snapshot_from_body(_batch({"num_requests": 4, "num_success": 1}), now=EARLY)


@pytest.mark.parametrize("bad", [-1, 1.5, "x", None, True])
def test_a_counter_that_is_not_a_count_fails_closed(bad: object) -> None:
    with pytest.raises(ProtocolError, match="num_pending"):
        snapshot_from_body(_batch({"num_pending": bad}), now=EARLY)  # type: ignore[dict-item]


def test_a_batch_without_its_create_time_or_with_a_bad_one_fails_closed() -> None:
    with pytest.raises(ProtocolError, match="create_time"):
        snapshot_from_body({**REFERENCE_BATCH, "create_time": None})
    with pytest.raises(ProtocolError, match="not a time"):
        snapshot_from_body({**REFERENCE_BATCH, "create_time": "yesterday"})


def test_the_name_carries_the_digest_and_the_count() -> None:
    name = batch_name(DIGEST, 3)
    assert name == f"batchwork-{DIGEST}-3"
    assert parse_name(name) == (DIGEST, 3)
    snapshot = snapshot_from_body(
        _batch({"num_requests": 3, "num_success": 3}, name=name), now=EARLY
    )
    assert snapshot.digest == DIGEST
    assert snapshot.errors == ()


def test_requests_a_stopped_fill_never_added_count_errored_and_are_named() -> None:
    body = _batch({"num_requests": 2, "num_success": 2}, name=batch_name(DIGEST, 5))
    snapshot = snapshot_from_body(body, now=EARLY)
    assert snapshot.status is BatchStatus.COMPLETED
    assert snapshot.request_counts.total == 5
    assert snapshot.request_counts.errored == 3
    assert [problem.code for problem in snapshot.errors] == [FILL_INTERRUPTED]
    assert "3 of the 5 requests were never added" in snapshot.errors[0].message


def test_a_batch_holding_more_than_its_create_added_fails_closed() -> None:
    body = _batch({"num_requests": 4, "num_success": 4}, name=batch_name(DIGEST, 3))
    with pytest.raises(ProtocolError, match="more than the 3"):
        snapshot_from_body(body, now=EARLY)


def test_an_empty_cancelled_batch_is_no_parts() -> None:
    body = _batch({}, name=batch_name(DIGEST, 3), cancel_time="2025-11-11T13:00:00Z")
    snapshot = snapshot_from_body(body, now=EARLY)
    assert snapshot.digest is None
    assert snapshot.status is BatchStatus.CANCELLED


def test_a_cancel_by_xai_is_named_as_a_problem() -> None:
    body = _batch(
        {"num_requests": 1, "num_cancelled": 1},
        cancel_time="2025-11-11T13:00:00Z",
        cancel_by_xai_message="abuse detected",
    )
    snapshot = snapshot_from_body(body, now=EARLY)
    assert [(problem.code, problem.message) for problem in snapshot.errors] == [
        ("cancelled_by_xai", "abuse detected")
    ]


@pytest.mark.parametrize("bad", ["batch_x:cancel", "batch_/x", "msgbatch_x", "", "batch_"])
def test_ids_that_could_change_the_url_path_are_refused(bad: str) -> None:
    with pytest.raises(UnsafeURLError):
        check_batch_id(bad)


def test_the_reference_result_reads_as_a_success_with_its_usage() -> None:
    entry = orjson.dumps(REFERENCE_RESULT)
    result = parse_result(entry, "batch_x")
    assert result is not None
    assert result.custom_id == "test_request_0"
    assert result.status is ResultStatus.SUCCEEDED
    assert result.text.startswith("101 multiplied by 3 is 303.")
    assert result.usage == Usage(input_tokens=706, output_tokens=22, cache_read_input_tokens=679)
    assert result.message is not None and result.message["model"] == "grok-4"


def test_an_error_result_is_errored_with_its_message_scrubbed() -> None:
    entry = orjson.dumps(
        {"batch_request_id": "r1", "batch_result": {"error": "bad key xai-SECRET"}}
    )
    result = parse_result(entry, "batch_x", lambda text: text.replace("xai-SECRET", "<redacted>"))
    assert result is not None and result.error is not None
    assert result.status is ResultStatus.ERRORED
    assert (result.error.type, result.error.message) == ("xai_error", "bad key <redacted>")


@pytest.mark.parametrize(
    "outcome",
    [
        {},
        {"error": "x", "response": REFERENCE_RESULT["batch_result"]["response"]},
        {"response": {"chat_get_completion": {"choices": []}}},
        {"response": {"image_response": {}}},
    ],
)
def test_malformed_results_are_not_guessed(outcome: dict[str, Any]) -> None:
    assert parse_result(orjson.dumps({"batch_request_id": "r", "batch_result": outcome})) is None


def test_a_cut_answer_and_a_refusal_say_why() -> None:
    completion = REFERENCE_RESULT["batch_result"]["response"]["chat_get_completion"]
    cut = {**completion, "choices": [{**completion["choices"][0], "finish_reason": "length"}]}
    entry = {"batch_request_id": "r", "batch_result": {"response": {"chat_get_completion": cut}}}
    result = parse_result(orjson.dumps(entry))
    assert result is not None and result._stop == "max_tokens"
    refused = {
        **completion,
        "choices": [{**completion["choices"][0], "message": {"content": None, "refusal": "no"}}],
    }
    entry = {
        "batch_request_id": "r",
        "batch_result": {"response": {"chat_get_completion": refused}},
    }
    result = parse_result(orjson.dumps(entry))
    assert result is not None and result._stop == "refusal" and result.text == ""
