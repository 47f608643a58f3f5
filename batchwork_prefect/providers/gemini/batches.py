"""Gemini's batch operations: names checked, states and batch stats mapped, snapshots read.

A batch is a long-running operation, `{name: "batches/...", metadata: {GenerateContentBatch
fields: model, displayName, state, batchStats, output, createTime, endTime, ...}, done,
error}`, as `GET /v1beta/batches/{id}` answers and the google-genai SDK reads it
(`batches._BatchJob_from_mldev`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
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

NAME = "gemini"
DEFAULT_BASE_URL = PROVIDERS["gemini"].default_base_url
"""The SDK's base URL; paths carry the API version (`/v1beta/...`), as the SDK adds it."""
API_VERSION = "v1beta"
LIMITS = BatchLimits(max_requests=100_000, max_bytes=2_000_000_000)
"""Per batch: an input file of 2 GB (the Files API's limit per file). Gemini documents no
request count limit; 100,000 is this package's choice (as many as Anthropic takes)."""
INLINE_MAX_BYTES = 20_000_000
"""A create whose body stays within 20 MB carries its requests inline; a larger one uploads
them as a JSONL file first (Gemini's guide: inline requests keep the request under 20MB)."""

BATCH_NAME_PATTERN = re.compile(r"batches/[A-Za-z0-9_-]{1,200}")
FILE_NAME_PATTERN = re.compile(r"files/[A-Za-z0-9_-]{1,200}")
MODEL_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
"""Names as they go into a URL path; used with `fullmatch`."""

DISPLAY_NAME_PATTERN = re.compile(r"batchwork-([0-9a-f]{64})-([0-9]{1,9})")
"""`displayName` of a batch this package made: its content digest and request count
(Gemini keeps no other caller data on a batch)."""


RPC_CODES = {
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}
"""An error `Status`'s `code` is a `google.rpc.Code`, not an HTTP status: its names."""


def display_name(digest: str, request_count: int) -> str:
    """The `displayName` a create sends: `batchwork-<digest>-<request count>`."""
    return f"batchwork-{digest}-{request_count}"


_STATES = {
    "BATCH_STATE_PENDING": BatchStatus.VALIDATING,
    "BATCH_STATE_RUNNING": BatchStatus.IN_PROGRESS,
    "BATCH_STATE_SUCCEEDED": BatchStatus.COMPLETED,
    "BATCH_STATE_FAILED": BatchStatus.FAILED,
    "BATCH_STATE_CANCELLED": BatchStatus.CANCELLED,
    "BATCH_STATE_EXPIRED": BatchStatus.EXPIRED,
}


def map_state(state: Any) -> BatchStatus:
    """Gemini's batch `state` as a `BatchStatus`; `BATCH_STATE_UNSPECIFIED`, the SDK's
    `JOB_STATE_*` words and anything else raise `UnknownStatusError` (fail closed)."""
    try:
        return _STATES[state]
    except (KeyError, TypeError):
        raise UnknownStatusError(NAME, str(state)) from None


def map_counts(
    status: BatchStatus, *, total: int, succeeded: int, failed: int, submitted: int | None
) -> RequestCounts:
    """`batchStats` in the shared shape: successful → succeeded, failed → errored, the rest
    processing while the batch runs, canceled in a cancelled batch, expired in an expired
    one, errored in a failed one; in a succeeded batch the rest is left out (reading results
    that lack them reports it). Before Gemini counts (no `requestCount`), the count the
    create recorded in `displayName` stands in for the total."""
    if total == 0 and submitted:
        total = submitted
    rest = total - succeeded - failed
    if rest < 0:
        raise ProtocolError(
            f"batch stats do not add up: {succeeded} successful + {failed} failed > {total}"
        )
    values = {
        "total": total,
        "processing": 0,
        "succeeded": succeeded,
        "errored": failed,
        "canceled": 0,
        "expired": 0,
    }
    if status is BatchStatus.EXPIRED:
        values["expired"] = rest
    elif status is BatchStatus.CANCELLED:
        values["canceled"] = rest
    elif status is BatchStatus.FAILED:
        values["errored"] = failed + rest
    elif status is not BatchStatus.COMPLETED:
        values["processing"] = rest
    return trusted(RequestCounts, values)


def check_batch_id(batch_id: str) -> str:
    """`batch_id` if it is a well-formed batch name (`batches/<id>`), safe in a URL path."""
    if not isinstance(batch_id, str) or not BATCH_NAME_PATTERN.fullmatch(batch_id):
        raise UnsafeURLError(
            f"{batch_id!r} is not a Gemini batch name (expected batches/ + letters/digits)"
        )
    return batch_id


def check_file_name(file_name: Any) -> str:
    """`file_name` if it is a well-formed file name (`files/<id>`), safe in a URL path."""
    if not isinstance(file_name, str) or not FILE_NAME_PATTERN.fullmatch(file_name):
        raise UnsafeURLError(
            f"{file_name!r} is not a Gemini file name (expected files/ + letters/digits)"
        )
    return file_name


def check_model(model: str) -> str:
    """`model` (without `models/`) if it is safe in the create's URL path."""
    name = model.removeprefix("models/")
    if not MODEL_PATTERN.fullmatch(name):
        raise UnsafeURLError(f"{model!r} is not a Gemini model name (letters, digits, . _ -)")
    return name


def _same(text: str) -> str:
    return text


def snapshot_from_body(
    body: Any, *, retry_after: float | None = None, scrub: Callable[[str], str] = _same
) -> BatchSnapshot:
    """A batch operation as a `BatchSnapshot`; a malformed one raises `ProtocolError`.

    The digest and request count are read back from `displayName` (a batch made elsewhere
    has neither); the operation's `error` becomes `errors`, its text through `scrub`.
    """
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise ProtocolError("gemini returned a batch without a name")
    batch_id = body["name"]
    batch = body.get("metadata")
    if not isinstance(batch, dict):
        raise ProtocolError(f"gemini batch {batch_id} has no metadata")
    state = batch.get("state")
    status = map_state(state)
    named = DISPLAY_NAME_PATTERN.fullmatch(str(batch.get("displayName") or ""))
    stats = batch.get("batchStats")
    if stats is None:
        stats = {}
    if not isinstance(stats, dict):
        raise ProtocolError(f"gemini batch {batch_id} has unreadable batchStats")
    try:
        counts = map_counts(
            status,
            total=_count(stats, "requestCount"),
            succeeded=_count(stats, "successfulRequestCount"),
            failed=_count(stats, "failedRequestCount"),
            submitted=int(named.group(2)) if named else None,
        )
    except ProtocolError as exc:
        raise ProtocolError(f"gemini batch {batch_id}: {exc}") from None
    return trusted_given(
        BatchSnapshot,
        {
            "id": batch_id,
            "provider": NAME,
            "status": status,
            "request_counts": counts,
            "provider_status": state,
            "created_at": timestamp(batch.get("createTime")),
            "ended_at": timestamp(batch.get("endTime")) if status.is_terminal else None,
            "expires_at": None,
            "cancel_initiated_at": None,
            "results_url": None,
            "retry_after": None if retry_after is None else float(retry_after),
            "digest": named.group(1) if named else None,
            "errors": _problems(body.get("error"), batch_id, scrub),
        },
    )


def _count(stats: dict[str, Any], name: str) -> int:
    """One batch stat: an int64, which JSON carries as a string of digits (or a number)."""
    value = stats.get(name)
    if value is None:
        return 0
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ProtocolError(f"unreadable batchStats.{name}: {value!r}")


def _problems(raw: Any, batch_id: str, scrub: Callable[[str], str]) -> tuple[BatchProblem, ...]:
    """The operation's `error` (a `google.rpc.Status`: code, message) as one problem."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ProtocolError(f"gemini batch {batch_id} has an unreadable error")
    code, message, status = raw.get("code"), raw.get("message"), raw.get("status")
    if not isinstance(message, (str, type(None))) or not isinstance(status, (str, type(None))):
        raise ProtocolError(f"gemini batch {batch_id} has an unreadable error")
    kind = status or (RPC_CODES.get(code, f"code_{code}") if isinstance(code, int) else "error")
    problem = {"code": scrub(kind), "message": scrub(message or ""), "line": None, "param": None}
    return (trusted(BatchProblem, problem),)


def timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (`2026-01-02T03:04:05.123456789Z`) as an aware datetime."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError(f"unreadable timestamp {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ProtocolError(f"unreadable timestamp {value!r}") from None
    if parsed.tzinfo is None:
        raise ProtocolError(f"timestamp {value!r} has no time zone")
    return parsed
