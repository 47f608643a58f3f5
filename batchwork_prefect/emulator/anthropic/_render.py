"""The Message Batches API's JSON shapes: the ``MessageBatch`` object and the list page."""

from __future__ import annotations

from datetime import timedelta

from .._clock import EmulatedClock, rfc3339
from .._state import DAY, Batch, View


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
