"""How long to sleep between polls of a running batch. Pure."""

from __future__ import annotations

DEFAULT_POLL_INTERVAL = 5.0
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
    if poll_interval <= 0 or max_poll_interval < poll_interval:
        raise ValueError("need 0 < poll_interval <= max_poll_interval")
    delay = min(max(poll_interval, LATENESS_FRACTION * max(elapsed, 0.0)), max_poll_interval)
    delay *= 1.0 - JITTER * min(max(random_fraction, 0.0), 1.0)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_SERVER_HINT))
    return delay
