"""The compact record of custom_ids seen while streaming results."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect.core.results import SeenIds


def test_add_reports_repeats_and_contains_answers() -> None:
    seen = SeenIds()
    assert seen.add("a") and seen.add("b")
    assert not seen.add("a")
    assert "a" in seen and "b" in seen and "c" not in seen
    assert len(seen) == 2


def test_it_grows_past_its_first_size_and_keeps_everything() -> None:
    seen = SeenIds()
    ids = [f"id-{index}" for index in range(5000)]
    assert all(seen.add(custom_id) for custom_id in ids)
    assert all(custom_id in seen for custom_id in ids)
    assert not any(seen.add(custom_id) for custom_id in ids)
    assert len(seen) == 5000


def test_reserve_keeps_what_was_added() -> None:
    seen = SeenIds(2)
    seen.add("x")
    seen.reserve(100_000)
    assert "x" in seen and not seen.add("x") and seen.add("y")


@given(st.lists(st.text(min_size=1, max_size=8), max_size=300))
def test_agrees_with_a_set(ids: list[str]) -> None:
    seen, reference = SeenIds(), set()
    for custom_id in ids:
        assert seen.add(custom_id) == (custom_id not in reference)
        reference.add(custom_id)
    assert len(seen) == len(reference)
    assert all(custom_id in seen for custom_id in reference)
