"""Gemini's batch operations: states, batch stats, names, the digest in displayName."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from batchwork_prefect.errors import ProtocolError, UnknownStatusError, UnsafeURLError
from batchwork_prefect.models import BatchStatus, RequestCounts
from batchwork_prefect.providers.gemini import (
    check_batch_id,
    check_file_name,
    display_name,
    map_state,
    snapshot_from_body,
)

DIGEST = "ab" * 32


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("BATCH_STATE_PENDING", BatchStatus.VALIDATING),
        ("BATCH_STATE_RUNNING", BatchStatus.IN_PROGRESS),
        ("BATCH_STATE_SUCCEEDED", BatchStatus.COMPLETED),
        ("BATCH_STATE_FAILED", BatchStatus.FAILED),
        ("BATCH_STATE_CANCELLED", BatchStatus.CANCELLED),
        ("BATCH_STATE_EXPIRED", BatchStatus.EXPIRED),
    ],
)
def test_states_map_to_the_shared_statuses(state: str, status: BatchStatus) -> None:
    assert map_state(state) is status


@pytest.mark.parametrize(
    "state", ["BATCH_STATE_UNSPECIFIED", "JOB_STATE_SUCCEEDED", "BATCH_STATE_PAUSED", None, 3]
)
def test_unknown_states_fail_closed(state: object) -> None:
    with pytest.raises(UnknownStatusError):
        map_state(state)


def _operation(
    state: str, stats: dict[str, object] | None = None, **extra: object
) -> dict[str, object]:
    metadata: dict[str, object] = {
        "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
        "model": "models/gemini-2.5-flash",
        "displayName": display_name(DIGEST, 4),
        "state": state,
        "createTime": "2026-12-07T20:00:00.123456789Z",
        "endTime": "2026-12-07T20:05:00Z",
    }
    if stats is not None:
        metadata["batchStats"] = stats
    return {"name": "batches/abc123", "metadata": metadata, **extra}


def test_a_snapshot_reads_name_digest_times_and_int64_stats() -> None:
    body = _operation(
        "BATCH_STATE_RUNNING",
        {
            "requestCount": "4",
            "successfulRequestCount": "1",
            "failedRequestCount": "1",
            "pendingRequestCount": "2",
        },
    )
    snapshot = snapshot_from_body(body)
    assert snapshot.id == "batches/abc123"
    assert snapshot.provider == "gemini"
    assert snapshot.provider_status == "BATCH_STATE_RUNNING"
    assert snapshot.digest == DIGEST
    assert snapshot.created_at == datetime(2026, 12, 7, 20, 0, 0, 123456, tzinfo=UTC)
    assert snapshot.ended_at is None  # not ended yet
    assert snapshot.request_counts == RequestCounts(total=4, processing=2, succeeded=1, errored=1)


@pytest.mark.parametrize(
    ("state", "counts"),
    [
        ("BATCH_STATE_SUCCEEDED", RequestCounts(total=4, succeeded=3, errored=1)),
        ("BATCH_STATE_CANCELLED", RequestCounts(total=4, succeeded=1, errored=1, canceled=2)),
        ("BATCH_STATE_EXPIRED", RequestCounts(total=4, succeeded=1, errored=1, expired=2)),
        ("BATCH_STATE_FAILED", RequestCounts(total=4, succeeded=1, errored=3)),
    ],
)
def test_the_rest_of_an_ended_batch_by_how_it_ended(state: str, counts: RequestCounts) -> None:
    done = 3 if state == "BATCH_STATE_SUCCEEDED" else 1
    stats = {"requestCount": "4", "successfulRequestCount": str(done), "failedRequestCount": "1"}
    snapshot = snapshot_from_body(_operation(state, stats))
    assert snapshot.request_counts == counts
    assert snapshot.ended_at == datetime(2026, 12, 7, 20, 5, tzinfo=UTC)


def test_before_gemini_counts_the_display_names_count_stands_in() -> None:
    snapshot = snapshot_from_body(_operation("BATCH_STATE_PENDING"))
    assert snapshot.request_counts == RequestCounts(total=4, processing=4)


def test_a_batch_made_elsewhere_has_no_digest() -> None:
    body = _operation("BATCH_STATE_PENDING")
    body["metadata"]["displayName"] = "my-batch"  # type: ignore[index]
    assert snapshot_from_body(body).digest is None


def test_a_failed_operations_error_becomes_its_problem() -> None:
    body = _operation(
        "BATCH_STATE_FAILED", error={"code": 3, "message": "bad file", "status": "INVALID_ARGUMENT"}
    )
    (problem,) = snapshot_from_body(body).errors
    assert (problem.code, problem.message) == ("INVALID_ARGUMENT", "bad file")


@pytest.mark.parametrize(
    "body",
    [
        {"metadata": {}},
        {"name": "batches/x"},
        _operation("BATCH_STATE_RUNNING", {"requestCount": "-1"}),
        _operation("BATCH_STATE_RUNNING", {"requestCount": "2", "successfulRequestCount": "3"}),
        _operation("BATCH_STATE_RUNNING", {"requestCount": True}),
    ],
)
def test_malformed_operations_raise_protocol_error(body: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        snapshot_from_body(body)


@pytest.mark.parametrize(
    "name", ["abc", "batches/", "batches/a/b", "batches/../x", "batches/x\n", "files/x", 7]
)
def test_batch_names_unsafe_in_a_url_path_are_refused(name: object) -> None:
    with pytest.raises(UnsafeURLError):
        check_batch_id(name)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["x", "files/a/b", "files/a?b", "batches/x", None])
def test_file_names_unsafe_in_a_url_path_are_refused(name: object) -> None:
    with pytest.raises(UnsafeURLError):
        check_file_name(name)


def test_well_formed_names_pass() -> None:
    assert check_batch_id("batches/abc-1_2") == "batches/abc-1_2"
    assert check_file_name("files/abc123") == "files/abc123"
