"""The policy that recognises the batch of a create whose answer was lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from batchwork_prefect.core.reconcile import (
    CLOCK_SKEW,
    CREATE_WINDOW,
    find_lost_batch,
    lost_batch_candidates,
)
from batchwork_prefect.models import BatchSnapshot, BatchStatus, RequestCounts

ATTEMPT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _batch(batch_id: str, total: int, created_at: datetime | None) -> BatchSnapshot:
    return BatchSnapshot(
        id=batch_id,
        provider="anthropic",
        status=BatchStatus.IN_PROGRESS,
        request_counts=RequestCounts(total=total, processing=total),
        provider_status="in_progress",
        created_at=created_at,
    )


def _ids(batches: list[BatchSnapshot]) -> list[str]:
    return [batch.id for batch in batches]


def test_the_one_batch_with_the_count_in_the_window_matches() -> None:
    batches = [_batch("a", 100, ATTEMPT + timedelta(seconds=2))]
    assert _ids(lost_batch_candidates(batches, request_count=100, attempted_at=ATTEMPT)) == ["a"]


@pytest.mark.parametrize(
    ("total", "offset", "matches"),
    [
        (99, timedelta(0), False),
        (101, timedelta(0), False),
        (100, -CLOCK_SKEW, True),
        (100, -CLOCK_SKEW - timedelta(microseconds=1), False),
        (100, CREATE_WINDOW, True),
        (100, CREATE_WINDOW + timedelta(microseconds=1), False),
        (100, timedelta(seconds=-1), True),
    ],
)
def test_count_and_window_bounds(total: int, offset: timedelta, matches: bool) -> None:
    batches = [_batch("a", total, ATTEMPT + offset)]
    found = lost_batch_candidates(batches, request_count=100, attempted_at=ATTEMPT)
    assert _ids(found) == (["a"] if matches else [])


def test_claimed_batches_and_batches_without_a_creation_time_are_left_out() -> None:
    batches = [
        _batch("sibling", 100, ATTEMPT),
        _batch("unknown-time", 100, None),
        _batch("ours", 100, ATTEMPT + timedelta(seconds=1)),
    ]
    found = lost_batch_candidates(
        batches, request_count=100, attempted_at=ATTEMPT, claimed={"sibling"}
    )
    assert _ids(found) == ["ours"]


def test_several_matches_are_all_returned() -> None:
    batches = [_batch("b", 5, ATTEMPT + timedelta(seconds=9)), _batch("a", 5, ATTEMPT)]
    assert _ids(lost_batch_candidates(batches, request_count=5, attempted_at=ATTEMPT)) == [
        "b",
        "a",
    ]


class _ListingProvider:
    """Only `list_batches`, recording what it was asked."""

    def __init__(self, batches: list[BatchSnapshot]) -> None:
        self._batches = batches
        self.created_after: datetime | None = None

    def list_batches(self, *, created_after: datetime | None = None) -> Iterator[BatchSnapshot]:
        self.created_after = created_after
        return iter(self._batches)


def test_find_lists_from_the_skewed_attempt_and_sorts_oldest_first() -> None:
    provider = _ListingProvider(
        [
            _batch("newer", 7, ATTEMPT + timedelta(seconds=5)),
            _batch("older", 7, ATTEMPT + timedelta(seconds=1)),
            _batch("other-size", 8, ATTEMPT),
        ]
    )
    found = find_lost_batch(provider, request_count=7, attempted_at=ATTEMPT)  # type: ignore[arg-type]
    assert _ids(found) == ["older", "newer"]
    assert provider.created_after == ATTEMPT - CLOCK_SKEW
