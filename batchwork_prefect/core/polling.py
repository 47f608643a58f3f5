"""How long to sleep between polls of a running batch, and which failed polls to retry. Pure."""

from __future__ import annotations

from batchwork_prefect.errors import ConfigurationError, ProviderError, TransportError

DEFAULT_POLL_INTERVAL = 30.0
DEFAULT_MAX_POLL_INTERVAL = 300.0
LATENESS_FRACTION = 0.1
"""A poll comes at most this fraction of the elapsed wait after the previous one."""
JITTER = 0.1
MAX_SERVER_HINT = 60.0


def next_poll_delay(
    elapsed: float,
    *,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    retry_after: float | None = None,
    random_fraction: float = 0.0,
) -> float:
    """Seconds until the next poll, `elapsed` seconds into a wait.

    Starts at `poll_interval` and grows with the wait (a tenth of the time waited so far),
    so the end of a batch is noticed within 10% of its run time while a long batch costs few
    calls; never above `max_poll_interval`. Jitter (`random_fraction` in [0, 1)) only
    shortens the delay, by up to 10%. A server `retry-after` hint (capped at 60 s) is a
    floor: the provider is not polled sooner than it asked.
    """
    _check_intervals(poll_interval, max_poll_interval)
    delay = min(max(poll_interval, LATENESS_FRACTION * max(elapsed, 0.0)), max_poll_interval)
    return _jittered_with_floor(delay, retry_after, random_fraction)


def _check_intervals(poll_interval: float, max_poll_interval: float) -> None:
    if poll_interval <= 0 or max_poll_interval < poll_interval:
        raise ConfigurationError("need 0 < poll_interval <= max_poll_interval")


def _jittered_with_floor(delay: float, retry_after: float | None, random_fraction: float) -> float:
    """`delay` shortened by up to 10% of jitter, then raised to the server's hint (capped)."""
    delay *= 1.0 - JITTER * min(max(random_fraction, 0.0), 1.0)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_SERVER_HINT))
    return delay


TRANSIENT_POLL_STATUSES = frozenset({408, 409, 429})
"""Error answers to a status poll that may go away (besides every 5xx, 529 overloaded too)."""

MAX_BACKOFF_DOUBLINGS = 60  # 2**60 times any interval is past every cap; keeps floats finite


def is_transient_poll_error(exc: BaseException) -> bool:
    """Whether a failed status poll may succeed if asked again later.

    Transient: a `ProviderError` with status 408, 409, 429 or any 5xx (529 overloaded
    included), and a `TransportError` (the provider could not be reached, or the connection
    failed). Everything else is a definite answer: 401/403 (credentials), 404, other 4xx,
    `ProtocolError` (and `UnknownStatusError`), `UnsafeURLError`, any other error.
    """
    if isinstance(exc, ProviderError):
        return exc.status_code in TRANSIENT_POLL_STATUSES or 500 <= exc.status_code <= 599
    return isinstance(exc, TransportError)


def poll_error_delay(
    failures: int,
    *,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    max_poll_interval: float = DEFAULT_MAX_POLL_INTERVAL,
    retry_after: float | None = None,
    random_fraction: float = 0.0,
) -> float:
    """Seconds to wait after `failures` polls in a row failed transiently (1 for the first).

    `poll_interval`, then doubling with each further failure, never above
    `max_poll_interval`. Jitter (`random_fraction` in [0, 1)) only shortens the delay, by up
    to 10%. A server `retry-after` hint (capped at 60 s) is a floor, as for `next_poll_delay`.
    """
    if failures < 1:
        raise ValueError("failures counts the failed polls so far: at least 1")
    _check_intervals(poll_interval, max_poll_interval)
    doublings = min(failures - 1, MAX_BACKOFF_DOUBLINGS)
    delay = min(poll_interval * 2.0**doublings, max_poll_interval)
    return _jittered_with_floor(delay, retry_after, random_fraction)
