"""Property checks of the timeline: counts sum to N, move monotonically, match the lines."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from batchwork_prefect.emulator._markers import LineError
from batchwork_prefect.emulator._state import DAY, Batch, begin_cancel, final_counts, view
from batchwork_prefect.emulator.anthropic._results import build_results

KINDS = ("succeeded", "errored", "canceled", "expired")


def _batch(kinds: list[str], processing_seconds: float) -> Batch:
    groups: dict[str, list[int]] = {kind: [] for kind in KINDS}
    for index, kind in enumerate(kinds):
        groups[kind].append(index)
    error = LineError("api_error", "boom", validation=False)
    return Batch(
        id="msgbatch_test",
        created=0.0,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        processing_seconds=processing_seconds,
        custom_ids=[f"c{i}" for i in range(len(kinds))],
        params=[{"model": "claude-x", "messages": []} for _ in kinds],
        succeeded=groups["succeeded"],
        errored=[(index, error) for index in groups["errored"]],
        marked_canceled=groups["canceled"],
        marked_expired=groups["expired"],
    )


@settings(max_examples=150, deadline=None, database=None)
@given(
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=40),
    processing_seconds=st.sampled_from([0.0, 10.0, 1000.0, 2 * DAY]),
    steps=st.lists(st.floats(min_value=0, max_value=DAY / 4), min_size=1, max_size=8),
    cancel_step=st.one_of(st.none(), st.integers(min_value=0, max_value=7)),
    gradual=st.booleans(),
)
def test_counts_are_consistent(
    kinds: list[str],
    processing_seconds: float,
    steps: list[float],
    cancel_step: int | None,
    gradual: bool,
) -> None:
    batch = _batch(kinds, processing_seconds)
    now, previous = 0.0, None
    for step_index, step in enumerate(steps):
        now += step
        if step_index == cancel_step and view(batch, now, gradual=gradual).status == "in_progress":
            begin_cancel(batch, now, cancel_seconds=30.0)
        counts = view(batch, now, gradual=gradual).counts
        values = (counts.processing, counts.succeeded, counts.errored, counts.canceled)
        assert sum((*values, counts.expired)) == len(kinds)
        if previous is not None:
            assert counts.processing <= previous.processing
            assert counts.succeeded >= previous.succeeded
            assert counts.errored >= previous.errored
        previous = counts
    final = view(batch, now + 2 * DAY, gradual=gradual)
    assert final.status == "ended"
    lines = build_results(batch, seed=1, reply_text=None).splitlines()
    seen = Counter(orjson.loads(line)["result"]["type"] for line in lines)
    expected = final_counts(batch)
    assert seen["succeeded"] == expected.succeeded
    assert seen["errored"] == expected.errored
    assert seen["canceled"] == expected.canceled
    assert seen["expired"] == expected.expired
    assert expected.processing == 0
