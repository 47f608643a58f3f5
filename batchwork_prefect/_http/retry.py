"""Retry policy: which answers to retry and how long to wait first. Pure functions."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

RETRYABLE_STATUSES = frozenset({408, 409, 429})
"""Statuses retried besides every 5xx (which includes Anthropic's 529 overloaded)."""

MAX_RETRY_AFTER = 60.0
"""A server's `retry-after` is honoured up to this many seconds."""

BASE_DELAY = 0.5
MAX_BACKOFF = 8.0


NOT_PROCESSED_STATUSES = frozenset({408, 429, 529})
"""Answers that prove the server did not act on the request (timeout, rate limit, overload)."""

REFUSED_CREATE_STATUSES = frozenset({400, 401, 403, 404, 409, 413, 422, 429, 529})
"""Final answers to a create that mean no batch was made (a 5xx other than 529 does not)."""


def should_retry_status(
    status_code: int, headers: Mapping[str, str], *, only_if_not_processed: bool = False
) -> bool:
    """Whether an answer with this status is worth retrying.

    An explicit `x-should-retry: true|false` header wins; otherwise 408, 409, 429 and
    every 5xx are retried. With `only_if_not_processed` (a create, which must never run
    twice) only answers proving nothing was done are: 408, 429 and 529. A 500 may come after
    the batch was made, so it is left to the caller to reconcile.
    """
    hint = headers.get("x-should-retry", "").strip().lower()
    if hint == "true":
        return True
    if hint == "false":
        return False
    if only_if_not_processed:
        return status_code in NOT_PROCESSED_STATUSES
    return status_code in RETRYABLE_STATUSES or status_code >= 500


def parse_retry_after(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """The server's requested delay in seconds, from `retry-after-ms` or `retry-after`.

    `retry-after` may be seconds or an HTTP date. Unparseable or negative values give None.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0:
            return value
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
        seconds = max(seconds, 0.0)
    return seconds if seconds >= 0 else None


def retry_delay(
    retries_taken: int,
    headers: Mapping[str, str] | None = None,
    *,
    random_fraction: Callable[[], float] = random.random,
    max_retry_after: float = MAX_RETRY_AFTER,
) -> float:
    """Seconds to wait before the next attempt.

    A server `retry-after` (or `retry-after-ms`) is used, capped at `max_retry_after`;
    otherwise jittered exponential backoff: `min(0.5 * 2**n, 8) * (1 - 0.25 * U[0, 1))`.
    """
    if headers is not None:
        hinted = parse_retry_after(headers)
        if hinted is not None:
            return min(hinted, max_retry_after)
    backoff = min(BASE_DELAY * 2.0**retries_taken, MAX_BACKOFF)
    return backoff * (1.0 - 0.25 * random_fraction())
