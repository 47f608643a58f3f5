"""The retry policy: which statuses are retried and how long to wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from batchwork_prefect._http.retry import (
    MAX_BACKOFF,
    MAX_RETRY_AFTER,
    parse_retry_after,
    retry_delay,
    should_retry_status,
)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_transient_statuses_are_retried(status: int) -> None:
    assert should_retry_status(status, {})


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 413, 422])
def test_client_errors_are_not_retried(status: int) -> None:
    assert not should_retry_status(status, {})


def test_x_should_retry_header_overrides_the_status() -> None:
    assert not should_retry_status(529, {"x-should-retry": "false"})
    assert should_retry_status(400, {"x-should-retry": "true"})
    assert should_retry_status(500, {"x-should-retry": "maybe"})


def test_retry_after_ms_wins_over_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    now = datetime(2026, 1, 1, tzinfo=UTC)
    when = format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert parse_retry_after({"retry-after": when}, now=now) == 7.0
    past = format_datetime(now - timedelta(seconds=7), usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0.0


@pytest.mark.parametrize(
    "headers",
    [{}, {"retry-after": "soon"}, {"retry-after": "-4"}, {"retry-after-ms": "x"}],
)
def test_unusable_retry_after_is_ignored(headers: dict[str, str]) -> None:
    assert parse_retry_after(headers) is None


def test_unparseable_retry_after_ms_falls_back_to_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "x", "retry-after": "2"}) == 2.0


def test_server_hint_is_honoured_up_to_the_cap() -> None:
    assert retry_delay(0, {"retry-after": "2"}) == 2.0
    assert retry_delay(5, {"retry-after": "3600"}) == MAX_RETRY_AFTER


@pytest.mark.parametrize("retries", range(8))
def test_backoff_is_exponential_jittered_and_capped(retries: int) -> None:
    top = min(0.5 * 2**retries, MAX_BACKOFF)
    assert retry_delay(retries, random_fraction=lambda: 0.0) == top
    assert retry_delay(retries, random_fraction=lambda: 1.0) == pytest.approx(top * 0.75)


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (408, True),
        (429, True),
        (529, True),
        (500, False),
        (502, False),
        (503, False),
        (409, False),
        (400, False),
    ],
)
def test_a_create_is_retried_only_when_the_answer_proves_nothing_was_done(
    status: int, retried: bool
) -> None:
    assert should_retry_status(status, {}, only_if_not_processed=True) is retried


def test_a_create_honours_an_explicit_retry_hint() -> None:
    assert should_retry_status(500, {"x-should-retry": "true"}, only_if_not_processed=True)
    assert not should_retry_status(529, {"x-should-retry": "false"}, only_if_not_processed=True)
