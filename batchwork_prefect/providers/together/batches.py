"""Together's batch objects: ids, statuses, the input file's name, counts and snapshots.

A Together batch keeps no caller data and counts no requests: it reports a `status`, a
`progress` percentage and the id of its input file. The create names that file
`batchwork-<digest>-<count>.jsonl`, and Together keeps a file's name, so a batch made here
is known by its digest and request count through its input file (`input_name`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from batchwork_prefect.errors import ProtocolError, UnknownStatusError, UnsafeURLError
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

NAME = "together"
DEFAULT_BASE_URL = PROVIDERS["together"].default_base_url
"""Without `/v1`, as the together SDK takes it (its paths start with `/v1/`)."""
ENDPOINT = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"
PURPOSE = "batch-api"
LIMITS = BatchLimits(max_requests=50_000, max_bytes=100_000_000)
"""Together's limits per batch: 50,000 requests, an input file of 100 MB (taken as decimal)."""

BATCH_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,199}")
FILE_ID_PATTERN = re.compile(r"file-[A-Za-z0-9_-]{1,200}")
"""Ids as they go into a URL path (`fullmatch`): batch ids are UUIDs, file ids `file-...`."""

_INPUT_NAME = re.compile(r"batchwork-([0-9a-f]{64})-([0-9]{1,9})\.jsonl")

_STATUSES = {
    "VALIDATING": BatchStatus.VALIDATING,
    "IN_PROGRESS": BatchStatus.IN_PROGRESS,
    "COMPLETED": BatchStatus.COMPLETED,
    "FAILED": BatchStatus.FAILED,
    "EXPIRED": BatchStatus.EXPIRED,
    "CANCELLING": BatchStatus.CANCELLING,
    "CANCELING": BatchStatus.CANCELLING,
    "CANCELLED": BatchStatus.CANCELLED,
}
"""The docs list six statuses; the together SDK (1.x) also names `CANCELING`, and a batch
being cancelled is read as `cancelling` in either spelling."""


def map_status(status: Any, provider: str = NAME) -> BatchStatus:
    """Together's batch `status` as a `BatchStatus`; an unknown word raises."""
    try:
        return _STATUSES[status]
    except (KeyError, TypeError):
        raise UnknownStatusError(provider, str(status)) from None


def input_name(digest: str, count: int) -> str:
    """The input file's name: the part's digest and request count, read back later."""
    return f"batchwork-{digest}-{count}.jsonl"


def read_input_name(filename: Any) -> tuple[str, int] | None:
    """`(digest, count)` from an input file named by `input_name`; None for other names."""
    found = _INPUT_NAME.fullmatch(filename) if isinstance(filename, str) else None
    return (found.group(1), int(found.group(2))) if found else None


def map_counts(status: BatchStatus, total: int, progress: float) -> RequestCounts:
    """Counts for a batch of `total` requests that reports only `status` and `progress`.

    Until results are read, nothing says which finished requests succeeded: a running
    batch counts all `total` as processing; a completed one as succeeded, a failed one as
    errored; an expired or cancelled one counts the `progress` share as succeeded and the
    rest expired or canceled. Reading the results settles the split (`settled_counts`).
    """
    done = min(total, math.floor(total * progress / 100)) if progress > 0 else 0
    values = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
    if status is BatchStatus.COMPLETED:
        values["succeeded"] = total
    elif status is BatchStatus.FAILED:
        values["errored"] = total
    elif status is BatchStatus.EXPIRED:
        values["succeeded"], values["expired"] = done, total - done
    elif status is BatchStatus.CANCELLED:
        values["succeeded"], values["canceled"] = done, total - done
    else:
        values["processing"] = total
    return trusted(RequestCounts, {"total": total, **values})


def settled_counts(snapshot: BatchSnapshot, tally: dict[str, int]) -> BatchSnapshot:
    """An ended batch's snapshot with the counts its results showed (`tally`: succeeded,
    errored, canceled, expired). Where the request count was unknown (a batch made
    elsewhere), the results read are the total."""
    total = snapshot.request_counts.total or sum(tally.values())
    counts = trusted(RequestCounts, {"total": total, "processing": 0, **tally})
    return snapshot.model_copy(update={"request_counts": counts})


def check_batch_id(batch_id: str) -> str:
    """`batch_id` if it is a well-formed Together batch id, safe to put in a URL path."""
    if not isinstance(batch_id, str) or not BATCH_ID_PATTERN.fullmatch(batch_id):
        raise UnsafeURLError(
            f"{batch_id!r} is not a Together batch id (expected a UUID: letters, digits, '-')"
        )
    return batch_id


def check_file_id(file_id: str) -> str:
    """`file_id` if it is a well-formed Together file id, safe to put in a URL path."""
    if not isinstance(file_id, str) or not FILE_ID_PATTERN.fullmatch(file_id):
        raise UnsafeURLError(
            f"{file_id!r} is not a Together file id (expected file- + letters/digits)"
        )
    return file_id


def _same(text: str) -> str:
    return text


def snapshot_from_body(
    body: Any,
    *,
    input_file: tuple[str, int] | None = None,
    retry_after: float | None = None,
    scrub: Callable[[str], str] = _same,
) -> BatchSnapshot:
    """A batch object as a `BatchSnapshot`; a malformed one raises `ProtocolError`.

    `input_file` is `(digest, count)` read from the batch's input file name (None for a
    batch made elsewhere: no digest, and a count of 0 until its results are read). A
    failed batch's `error` text becomes its one problem, through `scrub`.
    """
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise ProtocolError("Together returned a batch object without an id")
    batch_id = body["id"]
    status = map_status(body.get("status"))
    progress = body.get("progress")
    if progress is None:
        progress = 0.0
    if isinstance(progress, bool) or not isinstance(progress, (int, float)) or progress < 0:
        raise ProtocolError(f"Together batch {batch_id} has a bad progress: {progress!r}")
    digest, total = input_file if input_file is not None else (None, 0)
    error = body.get("error")
    if error is not None and not isinstance(error, str):
        raise ProtocolError(f"Together batch {batch_id} has an unreadable error")
    problems: tuple[BatchProblem, ...] = ()
    if status is BatchStatus.FAILED:
        message = scrub(error or "no reason given")
        values = {"code": "batch_failed", "message": message, "line": None, "param": None}
        problems = (trusted(BatchProblem, values),)
    terminal = status.is_terminal
    return trusted_given(
        BatchSnapshot,
        {
            "id": batch_id,
            "provider": NAME,
            "status": status,
            "request_counts": map_counts(status, total, float(progress)),
            "provider_status": body["status"],
            "created_at": parse_time(body.get("created_at"), batch_id),
            "ended_at": parse_time(body.get("completed_at"), batch_id) if terminal else None,
            "expires_at": parse_time(body.get("job_deadline"), batch_id),
            "cancel_initiated_at": None,
            "results_url": None,
            "retry_after": None if retry_after is None else float(retry_after),
            "digest": digest,
            "errors": problems,
        },
    )


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any, batch_id: str) -> datetime | None:
    """An RFC 3339 time as an aware datetime (fractions past microseconds dropped, no zone
    read as UTC); None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"Together batch {batch_id} has an unreadable time {value!r}")
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value))
    except ValueError:
        raise ProtocolError(f"Together batch {batch_id} has an unreadable time {value!r}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
