"""The adaptive poll schedule of `wait()`."""

from __future__ import annotations

import pytest

from batchwork_prefect.core.polling import next_poll_delay


def test_starts_at_the_poll_interval() -> None:
    assert next_poll_delay(0.0, poll_interval=5, max_poll_interval=300) == 5


def test_grows_with_the_time_waited_and_stops_at_the_cap() -> None:
    delays = [next_poll_delay(t, poll_interval=5, max_poll_interval=300) for t in (0, 100, 1000)]
    assert delays == [5, 10, 100]
    assert next_poll_delay(86_400, poll_interval=5, max_poll_interval=300) == 300


@pytest.mark.parametrize("elapsed", [0, 30, 60, 600, 3600, 7200])
def test_lateness_is_bounded_by_a_tenth_of_the_wait_or_the_interval(elapsed: float) -> None:
    delay = next_poll_delay(elapsed, poll_interval=5, max_poll_interval=3600)
    assert delay <= max(5, 0.1 * elapsed)


def test_jitter_only_shortens_by_at_most_ten_percent() -> None:
    plain = next_poll_delay(1000, random_fraction=0.0)
    jittered = next_poll_delay(1000, random_fraction=0.999)
    assert plain * 0.9 <= jittered < plain


def test_server_retry_after_is_a_floor_capped_at_a_minute() -> None:
    assert next_poll_delay(0, poll_interval=1, retry_after=10) == 10
    assert next_poll_delay(0, poll_interval=1, retry_after=600) == 60
    assert next_poll_delay(5000, poll_interval=1, retry_after=10) == 300


def test_one_hour_wait_costs_far_fewer_polls_than_a_fixed_poller() -> None:
    elapsed, polls = 0.0, 0
    while elapsed < 3600:
        elapsed += next_poll_delay(elapsed)
        polls += 1
    assert polls <= 3600 / 15 / 4


@pytest.mark.parametrize(("interval", "cap"), [(0, 10), (-1, 10), (20, 10)])
def test_rejects_nonsense_settings(interval: float, cap: float) -> None:
    with pytest.raises(ValueError):
        next_poll_delay(0, poll_interval=interval, max_poll_interval=cap)
