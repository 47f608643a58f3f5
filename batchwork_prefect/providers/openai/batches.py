"""OpenAI's batch objects: ids, statuses and counts mapped, snapshots read."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from batchwork_prefect.errors import (
    ProtocolError,
    UnknownStatusError,
    UnsafeURLError,
)
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

NAME = "openai"
DEFAULT_BASE_URL = PROVIDERS[NAME].default_base_url
ENDPOINT = "/v1/chat/completions"
"""The endpoint every request of a batch goes to (each input line names it too)."""
COMPLETION_WINDOW = "24h"
LIMITS = BatchLimits(max_requests=50_000, max_bytes=200_000_000)
"""OpenAI's limits per batch: 50,000 requests, and an input file of 200 MB (decimal)."""

BATCH_ID_PATTERN = re.compile(r"batch_[A-Za-z0-9_-]{1,200}")
FILE_ID_PATTERN = re.compile(r"file-[A-Za-z0-9_-]{1,200}")
"""Ids as they go into a URL path; used with `fullmatch`."""

METADATA_DIGEST = "batchwork_digest"
METADATA_REQUESTS = "batchwork_requests"
"""Metadata keys a create records: the part's content digest and its request count."""


_STATUSES = {
    "validating": BatchStatus.VALIDATING,
    "in_progress": BatchStatus.IN_PROGRESS,
    "finalizing": BatchStatus.FINALIZING,
    "completed": BatchStatus.COMPLETED,
    "failed": BatchStatus.FAILED,
    "expired": BatchStatus.EXPIRED,
    "cancelling": BatchStatus.CANCELLING,
    "cancelled": BatchStatus.CANCELLED,
}
_ENDED_AT = {
    BatchStatus.COMPLETED: "completed_at",
    BatchStatus.FAILED: "failed_at",
    BatchStatus.EXPIRED: "expired_at",
    BatchStatus.CANCELLED: "cancelled_at",
}


def map_status(status: str, provider: str = NAME) -> BatchStatus:
    """OpenAI's batch `status` as a `BatchStatus` (the same words); unknown words raise."""
    try:
        return _STATUSES[status]
    except (KeyError, TypeError):
        raise UnknownStatusError(provider, str(status)) from None


def map_counts(
    status: BatchStatus,
    *,
    total: int,
    completed: int,
    failed: int,
    submitted: int | None = None,
) -> RequestCounts:
    """OpenAI's `request_counts` (`total`, `completed`, `failed`) in the shared shape.

    `completed` requests succeeded and `failed` ones errored. The rest did not run yet
    (processing), or never will: expired in an expired batch, canceled in a cancelled one,
    errored in a failed one (it failed before running any). In a completed batch the rest is
    left out of every status, so reading results that lack them reports it. OpenAI reports
    no requests at all while validating and after failing validation: `submitted`, the
    count the create recorded in the batch's metadata, stands in for `total` then.
    Inconsistent counts raise `ProtocolError`.
    """
    if total == 0 and submitted:
        total = submitted
    rest = total - completed - failed
    if rest < 0:
        raise ProtocolError(
            f"request counts do not add up: {completed} completed + {failed} failed > {total}"
        )
    values = {
        "total": total,
        "processing": 0,
        "succeeded": completed,
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


def settle_counts(
    snapshot: BatchSnapshot, *, errored: int, expired: int, canceled: int
) -> BatchSnapshot:
    """An ended batch's snapshot, its counts settled by the outcomes its results hold.

    `map_counts` takes OpenAI's `failed` for the requests that errored. OpenAI may instead
    count there every request that did not succeed, those the batch never ran included
    (expired or cancelled requests in the error file). Its numbers cannot tell these apart,
    so when the results read hold no more errored requests than `failed`, and as many
    unsuccessful ones in all as OpenAI counted (`total - completed`), the split between
    errored, expired and canceled is taken from the results. Otherwise the snapshot is
    returned as it is, for the results to be checked against it.
    """
    counts = snapshot.request_counts
    read = {"errored": errored, "expired": expired, "canceled": canceled}
    if (
        snapshot.status is BatchStatus.FAILED
        or not snapshot.status.is_terminal
        or all(getattr(counts, name) == number for name, number in read.items())
        or errored > counts.errored
        or errored + expired + canceled != counts.total - counts.succeeded
    ):
        return snapshot
    return snapshot.model_copy(update={"request_counts": counts.model_copy(update=read)})


def check_batch_id(batch_id: str) -> str:
    """`batch_id` if it is a well-formed OpenAI batch id, safe to put in a URL path."""
    if not isinstance(batch_id, str) or not BATCH_ID_PATTERN.fullmatch(batch_id):
        raise UnsafeURLError(
            f"{batch_id!r} is not an OpenAI batch id (expected batch_ + letters/digits)"
        )
    return batch_id


def check_file_id(file_id: str) -> str:
    """`file_id` if it is a well-formed OpenAI file id, safe to put in a URL path."""
    if not isinstance(file_id, str) or not FILE_ID_PATTERN.fullmatch(file_id):
        raise UnsafeURLError(
            f"{file_id!r} is not an OpenAI file id (expected file- + letters/digits)"
        )
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
    """A `Batch` object as a `BatchSnapshot`; a malformed object raises `ProtocolError`.

    The digest and request count the create recorded in `metadata` are read back (a batch
    made elsewhere has neither); a failed batch's `errors` become `errors`, their text
    through `scrub`.
    """
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise ProtocolError(f"{provider} returned a batch object without an id")
    batch_id = body["id"]
    status = map_status(body.get("status"), provider)  # type: ignore[arg-type]
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    digest = metadata.get(METADATA_DIGEST)
    submitted = metadata.get(METADATA_REQUESTS)
    raw_counts = body.get("request_counts")
    if raw_counts is None:
        raw_counts = {"total": 0, "completed": 0, "failed": 0}
    if not isinstance(raw_counts, dict):
        raise ProtocolError(f"{provider} batch {batch_id} has no readable request_counts")
    numbers = {name: _count(raw_counts.get(name), name, batch_id) for name in _COUNT_NAMES}
    try:
        counts = map_counts(
            status,
            **numbers,
            submitted=int(submitted)
            if isinstance(submitted, str) and submitted.isdigit()
            else None,
        )
    except ProtocolError as exc:
        raise ProtocolError(f"{provider} batch {batch_id}: {exc}") from None
    cancelling_at = _timestamp(body.get("cancelling_at"))
    ended = _ENDED_AT.get(status)
    return trusted_given(
        BatchSnapshot,
        {
            "id": batch_id,
            "provider": provider,
            "status": status,
            "request_counts": counts,
            "provider_status": body["status"],
            "created_at": _timestamp(body.get("created_at")),
            "ended_at": _timestamp(body.get(ended)) if ended else None,
            "expires_at": _timestamp(body.get("expires_at")),
            "cancel_initiated_at": cancelling_at,
            "results_url": None,
            "retry_after": None if retry_after is None else float(retry_after),
            "digest": digest if isinstance(digest, str) else None,
            "errors": _problems(body.get("errors"), batch_id, scrub),
        },
    )


_COUNT_NAMES = ("total", "completed", "failed")


def _count(value: Any, name: str, batch_id: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"batch {batch_id} has a bad request_counts.{name}: {value!r}")
    return value


def _problems(raw: Any, batch_id: str, scrub: Callable[[str], str]) -> tuple[BatchProblem, ...]:
    """A batch's `errors` (`{"data": [{code, message, line, param}]}` or null)."""
    if raw is None:
        return ()
    data = raw.get("data") if isinstance(raw, dict) else None
    if data is None and isinstance(raw, dict):
        return ()
    if not isinstance(data, list):
        raise ProtocolError(f"batch {batch_id} has unreadable errors")
    problems = []
    for item in data:
        if not isinstance(item, dict):
            raise ProtocolError(f"batch {batch_id} has an unreadable error entry")
        code, message = item.get("code"), item.get("message")
        line, param = item.get("line"), item.get("param")
        if (
            not isinstance(code, (str, type(None)))
            or not isinstance(message, (str, type(None)))
            or not isinstance(param, (str, type(None)))
            or not (line is None or (isinstance(line, int) and not isinstance(line, bool)))
        ):
            raise ProtocolError(f"batch {batch_id} has an unreadable error entry")
        problems.append(
            trusted(
                BatchProblem,
                {
                    "code": scrub(code or "error"),
                    "message": scrub(message or ""),
                    "line": line,
                    "param": param,
                },
            )
        )
    return tuple(problems)


def _timestamp(value: Any) -> datetime | None:
    """Unix seconds as an aware datetime; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ProtocolError(f"unreadable timestamp {value!r}")
    return datetime.fromtimestamp(value, UTC)
