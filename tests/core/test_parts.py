"""Splitting requests into provider batches by count and size."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect.core.parts import ENVELOPE_BYTES, plan_parts
from batchwork_prefect.errors import InvalidBatchError


def test_small_batch_is_one_part() -> None:
    assert plan_parts([10, 10, 10], max_requests=100, max_bytes=10_000) == [range(0, 3)]


def test_splits_by_request_count() -> None:
    parts = plan_parts([1] * 250, max_requests=100, max_bytes=10**9)
    assert parts == [range(0, 100), range(100, 200), range(200, 250)]


def test_splits_by_bytes() -> None:
    budget = 1000 - ENVELOPE_BYTES
    parts = plan_parts([99] * 20, max_requests=1000, max_bytes=1000)
    assert all(sum(100 for _ in part) <= budget for part in parts)
    assert [len(part) for part in parts] == [9, 9, 2]


def test_empty_gives_no_parts() -> None:
    assert plan_parts([], max_requests=10, max_bytes=1000) == []


def test_a_request_larger_than_a_batch_is_refused_by_index() -> None:
    with pytest.raises(InvalidBatchError) as caught:
        plan_parts([10, 5000, 10], max_requests=10, max_bytes=1000)
    assert caught.value.problems == [
        "request 1 encodes to 5000 bytes, over the 1000-byte batch limit"
    ]


def test_rejects_impossible_limits() -> None:
    with pytest.raises(ValueError):
        plan_parts([1], max_requests=0, max_bytes=1000)
    with pytest.raises(ValueError):
        plan_parts([1], max_requests=1, max_bytes=ENVELOPE_BYTES)


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=200), max_size=300),
    max_requests=st.integers(min_value=1, max_value=50),
    max_bytes=st.integers(min_value=300, max_value=5000),
)
def test_parts_cover_everything_in_order_within_limits(
    sizes: list[int], max_requests: int, max_bytes: int
) -> None:
    parts = plan_parts(sizes, max_requests=max_requests, max_bytes=max_bytes)
    assert [index for part in parts for index in part] == list(range(len(sizes)))
    for part in parts:
        assert 1 <= len(part) <= max_requests
        assert sum(sizes[i] + 1 for i in part) <= max_bytes - ENVELOPE_BYTES
    for first, second in itertools.pairwise(parts):
        # Greedy: the next request would not have fitted in the previous part.
        fits_count = len(first) < max_requests
        fits_bytes = sum(sizes[i] + 1 for i in first) + sizes[second.start] + 1 <= (
            max_bytes - ENVELOPE_BYTES
        )
        assert not (fits_count and fits_bytes)
