"""One xAI batch: a named container whose requests are added over time, and its counters.

A request runs from when it is added: it finishes ``processing_seconds`` later (spread over
its add call when counts are gradual), as its plan says (succeeded, failed, or a marker's
canceled/expired). A cancel at ``t`` stops every request not finished by then: those are
cancelled ``cancel_seconds`` later. 24 h after the batch was made it expires
(``expire_time``): what is still pending stays pending. xAI's state has no status word,
only its counters.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from .._clock import EmulatedClock, rfc3339
from .._markers import LineError, Plan
from .._state import DAY

State = Literal["pending", "succeeded", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One added request: its id, body, plan, and when it was added and would finish."""

    custom_id: str
    params: dict[str, object]
    plan: Plan
    added: float
    finishes: float
    submission: int
    order: float
    """A seeded key ordering requests that finish at the same instant (results order)."""


@dataclass(eq=False)
class XaiBatch:
    """A stored batch: its name, its requests so far, and its cancel."""

    id: str
    name: str
    created: float
    api_key_id: str
    entries: list[Entry] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    cancel_at: float | None = None
    cancel_seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    rendered: dict[str, bytes] = field(default_factory=dict)
    """Each finished request's result as sent, by its id."""
    settled: tuple[int, list[tuple[float, float, Entry]]] | None = None
    """The finished requests in finishing order, once none is pending (and how many requests
    the batch held then): pages of an ended batch are read without sorting it again."""

    @property
    def expires(self) -> float:
        """Emulated instant of ``expire_time``."""
        return self.created + DAY


def state_of(batch: XaiBatch, entry: Entry, now: float) -> State:
    """Where one request is at ``now``."""
    cut = batch.cancel_at
    never = entry.plan == "expired" or entry.finishes > batch.expires
    if cut is not None and (never or entry.finishes > cut):
        return "cancelled" if now >= cut + batch.cancel_seconds else "pending"
    if never or now < entry.finishes:
        return "pending"
    if entry.plan == "canceled":
        return "cancelled"
    return "failed" if isinstance(entry.plan, LineError) else "succeeded"


def counters(batch: XaiBatch, now: float) -> dict[str, int]:
    """The batch's ``state`` object."""
    tally = {"pending": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
    for entry in batch.entries:
        tally[state_of(batch, entry, now)] += 1
    return {
        "num_requests": len(batch.entries),
        "num_pending": tally["pending"],
        "num_success": tally["succeeded"],
        "num_error": tally["failed"],
        "num_cancelled": tally["cancelled"],
    }


def finished_at(batch: XaiBatch, entry: Entry, now: float) -> float | None:
    """When a request that is no longer pending at ``now`` finished."""
    state = state_of(batch, entry, now)
    if state == "pending":
        return None
    if state == "cancelled" and batch.cancel_at is not None and entry.finishes > batch.cancel_at:
        return batch.cancel_at + batch.cancel_seconds
    return entry.finishes


def render(batch: XaiBatch, now: float, clock: EmulatedClock) -> dict[str, object]:
    """The batch object: every key present, nulls explicit, times in RFC 3339."""
    cancel = batch.cancel_at
    return {
        "batch_id": batch.id,
        "name": batch.name,
        "create_time": rfc3339(clock.to_datetime(batch.created)),
        "expire_time": rfc3339(clock.to_datetime(batch.expires)),
        "create_api_key_id": batch.api_key_id,
        "cancel_time": None if cancel is None else rfc3339(clock.to_datetime(cancel)),
        "cancel_by_xai_message": None,
        "state": counters(batch, now),
    }


def metadata(batch: XaiBatch, entry: Entry, now: float, clock: EmulatedClock) -> dict[str, object]:
    """One request's metadata as the requests list gives it."""
    done = finished_at(batch, entry, now)
    model = entry.params.get("model")
    return {
        "batch_request_id": entry.custom_id,
        "endpoint": "xai_api.Chat/GetCompletion",
        "model": model if isinstance(model, str) else "",
        "state": state_of(batch, entry, now),
        "create_time": rfc3339(clock.to_datetime(entry.added)),
        "finish_time": None if done is None else rfc3339(clock.to_datetime(done)),
    }
