"""Mistral's batch jobs: ids, statuses and counts mapped, job objects read as snapshots."""

from __future__ import annotations

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

NAME = "mistral"
DEFAULT_BASE_URL = PROVIDERS["mistral"].default_base_url
"""Without `/v1`: the mistralai SDK's server URL; every path names its `/v1`."""
ENDPOINT = "/v1/chat/completions"
TIMEOUT_HOURS = 24
"""The job's `timeout_hours` (Mistral's default; it must stay under 7 days)."""
LIMITS = BatchLimits(max_requests=1_000_000, max_bytes=512_000_000)
"""Mistral's limits: 1 million requests a job (and pending in a workspace), files of at most
512 MB (taken as 512,000,000 bytes, under either reading of MB)."""

UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
"""Job and file ids are UUIDs (the API reference's `format: uuid`); used with `fullmatch`."""

METADATA_DIGEST = "batchwork_digest"
METADATA_REQUESTS = "batchwork_requests"
"""Metadata keys a create records (Mistral: keys of 1-32 characters, string values of 1-512)."""

_STATUSES = {
    "QUEUED": BatchStatus.VALIDATING,
    "RUNNING": BatchStatus.IN_PROGRESS,
    "SUCCESS": BatchStatus.COMPLETED,
    "FAILED": BatchStatus.FAILED,
    "TIMEOUT_EXCEEDED": BatchStatus.EXPIRED,
    "CANCELLATION_REQUESTED": BatchStatus.CANCELLING,
    "CANCELLED": BatchStatus.CANCELLED,
}
_COUNT_NAMES = ("total_requests", "succeeded_requests", "failed_requests")


def map_status(status: str, provider: str = NAME) -> BatchStatus:
    """A job's `status` in the shared words: QUEUED is `validating` (not started yet),
    RUNNING `in_progress`, SUCCESS `completed`, FAILED `failed`, TIMEOUT_EXCEEDED
    `expired`, CANCELLATION_REQUESTED `cancelling`, CANCELLED `cancelled`; else raises."""
    try:
        return _STATUSES[status]
    except (KeyError, TypeError):
        raise UnknownStatusError(provider, str(status)) from None


def map_counts(
    status: BatchStatus, *, total: int, succeeded: int, failed: int, submitted: int | None = None
) -> RequestCounts:
    """A job's `total_requests`, `succeeded_requests` and `failed_requests` in the shared
    shape. The rest are processing while the job runs, expired once its timeout passed,
    canceled once cancelled, errored in a failed job, and left out in a successful one (so
    reading results that lack them reports it). A job that counts no requests (queued, or
    failed before reading its input) stands in `submitted`, the count the create recorded.
    Inconsistent counts raise `ProtocolError`."""
    if total == 0 and submitted:
        total = submitted
    rest = total - succeeded - failed
    if rest < 0:
        raise ProtocolError(
            f"request counts do not add up: {succeeded} succeeded + {failed} failed > {total}"
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
    """`batch_id` if it is a Mistral job id (a UUID), safe to put in a URL path."""
    if not isinstance(batch_id, str) or not UUID_PATTERN.fullmatch(batch_id):
        raise UnsafeURLError(
            f"{batch_id!r} is not a Mistral batch job id (expected a UUID such as "
            "'fe3343a2-3b8d-404b-ba32-a78dede2614a')"
        )
    return batch_id


def check_file_id(file_id: str) -> str:
    """`file_id` if it is a Mistral file id (a UUID), safe to put in a URL path."""
    if not isinstance(file_id, str) or not UUID_PATTERN.fullmatch(file_id):
        raise UnsafeURLError(f"{file_id!r} is not a Mistral file id (expected a UUID)")
    return file_id


def _same(text: str) -> str:
    return text


def snapshot_from_body(
    body: Any,
    *,
    provider: str = NAME,
    retry_after: float | None = None,
    scrub: Callable[[str], str] = _same,
) -> BatchSnapshot:
    """A batch job object as a `BatchSnapshot`; a malformed one raises `ProtocolError`.

    The digest and request count the create recorded in `metadata` are read back; the
    job's `errors` (`{message, count}`) become `errors`, their text through `scrub`.
    """
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise ProtocolError(f"{provider} returned a batch job without an id")
    job_id = body["id"]
    status = map_status(body.get("status"), provider)  # type: ignore[arg-type]
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    digest = metadata.get(METADATA_DIGEST)
    submitted = metadata.get(METADATA_REQUESTS)
    numbers = [_count(body.get(name), name, job_id) for name in _COUNT_NAMES]
    try:
        counts = map_counts(
            status,
            total=numbers[0],
            succeeded=numbers[1],
            failed=numbers[2],
            submitted=int(submitted)
            if isinstance(submitted, str) and submitted.isdigit()
            else None,
        )
    except ProtocolError as exc:
        raise ProtocolError(f"{provider} batch {job_id}: {exc}") from None
    return trusted_given(
        BatchSnapshot,
        {
            "id": job_id,
            "provider": provider,
            "status": status,
            "request_counts": counts,
            "provider_status": body["status"],
            "created_at": _timestamp(body.get("created_at")),
            "ended_at": _timestamp(body.get("completed_at")) if status.is_terminal else None,
            "expires_at": None,
            "cancel_initiated_at": None,
            "results_url": None,
            "retry_after": None if retry_after is None else float(retry_after),
            "digest": digest if isinstance(digest, str) else None,
            "errors": _problems(body.get("errors"), job_id, scrub),
        },
    )


def _count(value: Any, name: str, job_id: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"batch {job_id} has a bad {name}: {value!r}")
    return value


def _problems(raw: Any, job_id: str, scrub: Callable[[str], str]) -> tuple[BatchProblem, ...]:
    """A job's `errors`: `[{message, count}]` (count defaults to 1)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ProtocolError(f"batch {job_id} has unreadable errors")
    problems = []
    for item in raw:
        message = item.get("message") if isinstance(item, dict) else None
        count = item.get("count", 1) if isinstance(item, dict) else None
        if not isinstance(message, str) or not (
            count is None or (isinstance(count, int) and not isinstance(count, bool))
        ):
            raise ProtocolError(f"batch {job_id} has an unreadable error entry")
        text = scrub(message) if count in (None, 1) else f"{scrub(message)} ({count} times)"
        problems.append(
            trusted(BatchProblem, {"code": "error", "message": text, "line": None, "param": None})
        )
    return tuple(problems)


def _timestamp(value: Any) -> datetime | None:
    """Unix seconds as an aware datetime; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ProtocolError(f"unreadable timestamp {value!r}")
    return datetime.fromtimestamp(value, UTC)
