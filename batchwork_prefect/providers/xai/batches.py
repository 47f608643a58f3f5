"""xAI's batch objects: ids, names that carry the digest, state counters read as a status.

xAI's batch has no status word: `state` holds counters (`num_requests`, `num_pending`,
`num_success`, `num_error`, `num_cancelled`) and the batch has `cancel_time` and
`expire_time`. The status is read from them; counters that do not add up fail closed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from batchwork_prefect.errors import ProtocolError, UnsafeURLError
from batchwork_prefect.models import (
    BatchProblem,
    BatchSnapshot,
    BatchStatus,
    RequestCounts,
    trusted,
    trusted_given,
)
from batchwork_prefect.providers.base import BatchLimits
from batchwork_prefect.registry import PROVIDERS

NAME = "xai"
DEFAULT_BASE_URL = PROVIDERS["xai"].default_base_url

CHUNK_BYTES = 25_000_000
"""The most one add-requests call carries: xAI's 25 MB payload limit (read as decimal MB)."""
ADD_CALLS_PER_WINDOW = 100
ADD_WINDOW_SECONDS = 30.0
"""xAI's rate limit on add-requests calls: 100 every 30 seconds, per team (rolling)."""

LIMITS = BatchLimits(max_requests=1_000_000, max_bytes=ADD_CALLS_PER_WINDOW * CHUNK_BYTES)
"""One part: at most 1,000,000 requests (xAI may throttle larger batches), and as many bytes
as one rate window of add calls carries (100 x 25 MB), so a part fills within a window."""

BATCH_ID_PATTERN = re.compile(r"batch_[A-Za-z0-9_-]{1,200}")
"""A batch id as it goes into a URL path (`fullmatch`); no `:`, which starts `:cancel`."""

NAME_PATTERN = re.compile(r"batchwork-([0-9a-f]{64})-([1-9][0-9]{0,8})")
"""The name a create gives its batch: the part's digest and its request count."""

FILL_INTERRUPTED = "batch_fill_interrupted"
"""The error type of a request its create never added to the batch (the fill stopped)."""


def check_batch_id(batch_id: str) -> str:
    """`batch_id` if it is a well-formed xAI batch id; else `UnsafeURLError`."""
    if not isinstance(batch_id, str) or not BATCH_ID_PATTERN.fullmatch(batch_id):
        raise UnsafeURLError(f"not an xAI batch id: {batch_id!r} (expected batch_<id>)")
    return batch_id


def batch_name(digest: str, request_count: int) -> str:
    """The name a create gives its batch: `batchwork-<digest>-<request count>`."""
    name = f"batchwork-{digest}-{request_count}"
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"cannot name a batch after digest {digest!r} and {request_count}")
    return name


def parse_name(name: object) -> tuple[str, int] | None:
    """`(digest, request count)` from a name `batch_name` made, else None."""
    found = NAME_PATTERN.fullmatch(name) if isinstance(name, str) else None
    return (found.group(1), int(found.group(2))) if found else None


def parse_time(value: object, what: str) -> datetime | None:
    """An xAI time (RFC 3339, or a bare date as the reference's examples show), in UTC."""
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"xAI sent {what} that is not a time: {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ProtocolError(f"xAI sent {what} that is not a time: {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def server_time(date: str | None) -> datetime | None:
    """An answer's `Date` header: a batch has expired by the server's clock, not ours."""
    if not date:
        return None
    try:
        moment = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_COUNTERS = ("num_requests", "num_pending", "num_success", "num_error", "num_cancelled")


def read_state(state: object) -> dict[str, int]:
    """The five counters of a batch's `state`, checked: non-negative integers that add up."""
    if not isinstance(state, dict):
        raise ProtocolError("xAI sent a batch without its state")
    counts: dict[str, int] = {}
    for key in _COUNTERS:
        value = state.get(key, 0)  # proto3 JSON may leave out a zero
        if isinstance(value, str) and value.isdigit():  # int64 as proto3 JSON may write it
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ProtocolError(f"xAI sent a batch state whose {key} is {value!r}")
        counts[key] = value
    done = counts["num_success"] + counts["num_error"] + counts["num_cancelled"]
    if done + counts["num_pending"] != counts["num_requests"]:
        raise ProtocolError(
            f"xAI batch counters do not add up: {counts['num_success']} succeeded + "
            f"{counts['num_error']} errored + {counts['num_cancelled']} cancelled + "
            f"{counts['num_pending']} pending != {counts['num_requests']} requests"
        )
    return counts


def map_state(
    counts: dict[str, int],
    *,
    cancelled: bool,
    expired: bool,
    expected: int | None = None,
) -> tuple[BatchStatus, RequestCounts, int]:
    """The shared status and counts of a batch, and how many requests it lacks.

    Pending requests are processing while the batch runs, canceled once it was cancelled
    (`cancelling` while some still run), expired once its `expire_time` passed. A batch
    whose pending count reached 0 has ended (`completed`); one holding no request is
    `validating` (waiting for requests). `expected` is the count the create named the
    batch after: requests it lacks were never added (the fill stopped) and count as
    errored; more than it holds fails closed.
    """
    total = counts["num_requests"]
    pending = counts["num_pending"]
    missing = 0 if expected is None else expected - total
    if missing < 0:
        raise ProtocolError(
            f"the batch holds {total} requests, more than the {expected} its create added"
        )
    values = {
        "total": total + missing,
        "processing": pending,
        "succeeded": counts["num_success"],
        "errored": counts["num_error"] + missing,
        "canceled": counts["num_cancelled"],
        "expired": 0,
    }
    if cancelled:
        status = BatchStatus.CANCELLING if pending else BatchStatus.CANCELLED
    elif expired and pending:
        status = BatchStatus.EXPIRED
        values["processing"], values["expired"] = 0, pending
    elif pending:
        status = BatchStatus.IN_PROGRESS
    elif total == 0 and missing == 0:
        status = BatchStatus.VALIDATING
    else:
        status = BatchStatus.COMPLETED
    return status, trusted(RequestCounts, values), missing


def provider_status(counts: dict[str, int], *, cancelled: bool, expired: bool) -> str:
    """xAI's state in words (it sends no status word): `3 of 10 pending`, `cancelled`..."""
    words = f"{counts['num_pending']} of {counts['num_requests']} pending"
    if cancelled:
        return f"cancelled, {words}"
    return f"expired, {words}" if expired else words


def snapshot_from_body(
    body: Any,
    *,
    provider: str = NAME,
    now: datetime | None = None,
    retry_after: float | None = None,
    scrub: Callable[[str], str] = lambda text: text,
) -> BatchSnapshot:
    """A batch object as a `BatchSnapshot`; malformed ones raise `ProtocolError`.

    A batch named by `batch_name` carries its digest (`snapshot.digest`), and the requests
    its create never added are counted errored and named in `snapshot.errors`.
    """
    if not isinstance(body, dict):
        raise ProtocolError("xAI sent a batch that is not an object")
    batch_id = body.get("batch_id")
    if not isinstance(batch_id, str) or not BATCH_ID_PATTERN.fullmatch(batch_id):
        raise ProtocolError(f"xAI sent a batch without a usable batch_id: {batch_id!r}")
    counts = read_state(body.get("state"))
    created_at = parse_time(body.get("create_time"), "a create_time")
    if created_at is None:
        raise ProtocolError(f"xAI sent batch {batch_id} without its create_time")
    expires_at = parse_time(body.get("expire_time"), "an expire_time")
    cancelled_at = parse_time(body.get("cancel_time"), "a cancel_time")
    by_xai = body.get("cancel_by_xai_message")
    cancelled = cancelled_at is not None or bool(by_xai)
    moment = now if now is not None else datetime.now(UTC)
    expired = expires_at is not None and moment >= expires_at
    named = parse_name(body.get("name"))
    if named and cancelled and counts["num_requests"] == 0:
        named = None  # a create refused at its first add cancels its empty batch: no part's
    status, request_counts, missing = map_state(
        counts, cancelled=cancelled, expired=expired, expected=named[1] if named else None
    )
    problems: list[BatchProblem] = []
    if missing:
        problems.append(
            trusted_given(
                BatchProblem,
                {
                    "code": FILL_INTERRUPTED,
                    "message": f"{missing} of the {named[1] if named else 0} requests were "
                    "never added to this batch (the create stopped while adding them): they "
                    "did not run and cost nothing; send them again",
                },
            )
        )
    if isinstance(by_xai, str) and by_xai:
        problems.append(
            trusted_given(BatchProblem, {"code": "cancelled_by_xai", "message": scrub(by_xai)})
        )
    ended_at = None
    if status is BatchStatus.CANCELLED:
        ended_at = cancelled_at
    elif status is BatchStatus.EXPIRED:
        ended_at = expires_at
    return trusted_given(
        BatchSnapshot,
        {
            "id": batch_id,
            "provider": provider,
            "status": status,
            "request_counts": request_counts,
            "provider_status": provider_status(counts, cancelled=cancelled, expired=expired),
            "created_at": created_at,
            "ended_at": ended_at,
            "expires_at": expires_at,
            "cancel_initiated_at": cancelled_at,
            "retry_after": retry_after,
            "digest": named[0] if named else None,
            "errors": tuple(problems),
        },
    )
