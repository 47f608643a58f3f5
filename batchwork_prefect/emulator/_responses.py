"""Transport-neutral request/response values and the JSON shapes of the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import orjson

from ._clock import EmulatedClock, rfc3339
from ._state import DAY, Batch, View

JSON_TYPE = "application/json"
JSONL_TYPE = "application/x-jsonl"

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request as the handler read it (headers lower-cased)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes = b""
    oversize: bool = False


@dataclass(frozen=True, slots=True)
class Response:
    """What to send back; ``truncate_after`` cuts the body short after that many bytes,
    ``hold_after`` parks the sending thread after that many bytes until released."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: Headers = field(default=())
    truncate_after: int | None = None
    hold_after: int | None = None
    close: bool = False


def json_response(
    status: int, payload: object, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """A JSON response."""
    return Response(status, orjson.dumps(payload), JSON_TYPE, headers)


def error_body(error_type: str, message: str, request_id: str) -> bytes:
    """The standard ``{"type":"error","error":{...},"request_id":...}`` body."""
    error = {"type": error_type, "message": message}
    return orjson.dumps({"type": "error", "error": error, "request_id": request_id})


def render_batch(
    batch: Batch, seen: View, clock: EmulatedClock, results_origin: str
) -> dict[str, object]:
    """The ``MessageBatch`` object: every key present, nulls explicit."""
    created_at = batch.created_at
    results_url = f"{results_origin}/v1/messages/batches/{batch.id}/results"
    counts = seen.counts
    return {
        "id": batch.id,
        "type": "message_batch",
        "processing_status": seen.status,
        "request_counts": {
            "processing": counts.processing,
            "succeeded": counts.succeeded,
            "errored": counts.errored,
            "canceled": counts.canceled,
            "expired": counts.expired,
        },
        "ended_at": _stamp(clock, seen.ended_at),
        "created_at": rfc3339(created_at),
        "expires_at": rfc3339(created_at + timedelta(seconds=DAY)),
        "archived_at": rfc3339(created_at + timedelta(days=29)) if seen.archived else None,
        "cancel_initiated_at": _stamp(clock, batch.cancel_at),
        "results_url": results_url if seen.status == "ended" else None,
    }


def render_page(items: list[dict[str, object]], has_more: bool) -> dict[str, object]:
    """The list envelope ``{data, has_more, first_id, last_id}``."""
    return {
        "data": items,
        "has_more": has_more,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
    }


def _stamp(clock: EmulatedClock, emulated: float | None) -> str | None:
    return None if emulated is None else rfc3339(clock.to_datetime(emulated))
