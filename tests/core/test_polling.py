"""The adaptive poll schedule of `wait()`, and which failed polls it rides out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect.core.polling import (
    is_transient_poll_error,
    next_poll_delay,
    poll_error_delay,
)
from batchwork_prefect.errors import (
    BatchTimeoutError,
    BatchworkError,
    ConfigurationError,
    InvalidBatchError,
    MaybeSentError,
    PartialSubmissionError,
    ProtocolError,
    ProviderError,
    ResultsIntegrityError,
    ResultsNotReadyError,
    SubmissionOutcomeUnknown,
    TransportError,
    UnknownStatusError,
    UnsafeURLError,
)
from batchwork_prefect.models import BatchSnapshot, BatchStatus, RequestCounts


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


def _provider_error(status: int) -> ProviderError:
    return ProviderError("x", status_code=status, method="GET", url="https://a.example/v1/b")


@pytest.mark.parametrize("status", range(100, 600))
def test_every_status_is_classified(status: int) -> None:
    transient = status in (408, 409, 429) or status >= 500
    assert is_transient_poll_error(_provider_error(status)) is transient


@pytest.mark.parametrize("status", [401, 403, 404, 400, 413, 422])
def test_auth_not_found_and_other_client_errors_are_definite(status: int) -> None:
    assert not is_transient_poll_error(_provider_error(status))


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_timeouts_conflicts_rate_limits_and_server_errors_are_transient(status: int) -> None:
    assert is_transient_poll_error(_provider_error(status))


_SNAPSHOT = BatchSnapshot(
    id="msgbatch_a",
    provider="anthropic",
    status=BatchStatus.IN_PROGRESS,
    request_counts=RequestCounts(total=1, processing=1),
    provider_status="in_progress",
)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (TransportError("could not connect", method="GET", url="u"), True),
        (TransportError("connection failed", method="GET", url="u"), True),
        (MaybeSentError("no answer", method="GET", url="u"), True),
        (ProtocolError("not JSON"), False),
        (UnknownStatusError("anthropic", "paused"), False),
        (UnsafeURLError("off origin"), False),
        (ConfigurationError("no key"), False),
        (InvalidBatchError(["bad"]), False),
        (ResultsNotReadyError("not yet"), False),
        (ResultsIntegrityError(["bad"]), False),
        (BatchTimeoutError(_SNAPSHOT, 1.0), False),
        (PartialSubmissionError(batch_ids=["a"], parts_total=2, failed_part=1), False),
        (
            SubmissionOutcomeUnknown(
                provider="anthropic",
                request_count=1,
                digest="d",
                attempted_at=datetime.now(UTC),
                cause="c",
            ),
            False,
        ),
        (BatchworkError("other"), False),
        (ValueError("not ours"), False),
        (TimeoutError(), False),
    ],
)
def test_errors_other_than_provider_answers(error: BaseException, transient: bool) -> None:
    assert is_transient_poll_error(error) is transient


def test_error_backoff_starts_at_the_interval_and_doubles_up_to_the_cap() -> None:
    delays = [poll_error_delay(n, poll_interval=5, max_poll_interval=300) for n in range(1, 10)]
    assert delays == [5, 10, 20, 40, 80, 160, 300, 300, 300]


def test_error_backoff_survives_a_day_of_failures() -> None:
    assert poll_error_delay(10**9, poll_interval=5, max_poll_interval=300) == 300
    assert poll_error_delay(10**9, poll_interval=0.01, max_poll_interval=1e9) == 1e9


@given(
    failures=st.integers(min_value=1, max_value=10_000),
    interval=st.floats(min_value=0.01, max_value=100),
    spread=st.floats(min_value=1, max_value=1000),
    fraction=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_error_backoff_stays_between_the_interval_and_the_cap(
    failures: int, interval: float, spread: float, fraction: float
) -> None:
    cap = interval * spread
    plain = poll_error_delay(failures, poll_interval=interval, max_poll_interval=cap)
    jittered = poll_error_delay(
        failures, poll_interval=interval, max_poll_interval=cap, random_fraction=fraction
    )
    assert interval <= plain <= cap
    assert plain * 0.9 <= jittered <= plain
    later = poll_error_delay(failures + 1, poll_interval=interval, max_poll_interval=cap)
    assert later >= plain


def test_error_backoff_honours_retry_after_as_a_floor_capped_at_a_minute() -> None:
    assert poll_error_delay(1, poll_interval=1, max_poll_interval=300, retry_after=10) == 10
    assert poll_error_delay(1, poll_interval=1, max_poll_interval=300, retry_after=600) == 60
    assert poll_error_delay(9, poll_interval=1, max_poll_interval=300, retry_after=10) == 256
    assert poll_error_delay(1, poll_interval=1, max_poll_interval=300, retry_after=0) == 1
    assert poll_error_delay(1, poll_interval=1, max_poll_interval=300, retry_after=None) == 1


@pytest.mark.parametrize(
    ("failures", "interval", "cap"), [(0, 5, 300), (-1, 5, 300), (1, 0, 300), (1, 20, 10)]
)
def test_error_backoff_rejects_nonsense(failures: int, interval: float, cap: float) -> None:
    with pytest.raises(ValueError):
        poll_error_delay(failures, poll_interval=interval, max_poll_interval=cap)
