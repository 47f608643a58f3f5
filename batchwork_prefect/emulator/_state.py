"""One stored batch and its emulated timeline (status and counters as a function of time).

Timeline of a batch created at emulated second ``c`` with ``P = processing_seconds``:

* Completable requests (planned ``succeeded`` or ``errored``) finish proportionally: at time
  ``t`` a fraction ``f = min(1, (t - c) / P)`` of each group is done (``floor``), the first
  ones in request order. Marker-forced ``canceled``/``expired`` requests never finish.
* Natural end at ``c + P``; if ``P`` exceeds 24 h the batch instead ends at ``c + 24h``
  and every request not done by then is ``expired``.
* Cancel at ``t_c`` (only while ``in_progress``) freezes progress; the batch is ``canceling``
  until ``t_c + cancel_seconds`` (or the 24 h expiry, if sooner), then ``ended`` with every
  request not done at ``t_c`` ``canceled``.
* ``archived_at`` appears ``29 days`` after creation; results are then unavailable.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ._errors import invalid_request
from ._markers import LineError, Plan

DAY = 86_400.0
ARCHIVE_AFTER = 29 * DAY

Status = Literal["in_progress", "canceling", "ended"]
CutKind = Literal["natural", "cancel", "expire"]


@dataclass(eq=False)
class Batch:
    """A stored batch: immutable request plan plus the (locked) cancel/results state."""

    id: str
    created: float
    created_at: datetime
    processing_seconds: float
    custom_ids: list[str]
    params: list[dict[str, object]]
    succeeded: list[int]
    errored: list[tuple[int, LineError]]
    marked_canceled: list[int]
    marked_expired: list[int]
    submissions: list[int] = field(default_factory=list)
    cancel_at: float | None = None
    cancel_seconds: float = 0.0
    results_body: bytes | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total(self) -> int:
        """Number of requests in the batch."""
        return len(self.custom_ids)

    def submission(self, index: int) -> int:
        """Which submission of its ``custom_id`` request ``index`` is (1 when not recorded)."""
        return self.submissions[index] if index < len(self.submissions) else 1


def plan_batch(
    batch_id: str,
    created: float,
    created_at: datetime,
    processing_seconds: float,
    entries: Sequence[tuple[str, dict[str, object]]],
    planner: Callable[[dict[str, object], int], Plan],
    submissions: Sequence[int],
) -> Batch:
    """A new batch whose requests (``(custom_id, params)``) are each planned by ``planner``,
    given how many times (``submissions``, aligned with ``entries``) each was submitted."""
    succeeded: list[int] = []
    errored: list[tuple[int, LineError]] = []
    forced: dict[str, list[int]] = {"canceled": [], "expired": []}
    for index, ((_, params), submission) in enumerate(zip(entries, submissions, strict=True)):
        plan = planner(params, submission)
        if isinstance(plan, LineError):
            errored.append((index, plan))
        elif plan == "succeeded":
            succeeded.append(index)
        else:
            forced[plan].append(index)
    return Batch(
        id=batch_id,
        created=created,
        created_at=created_at,
        processing_seconds=processing_seconds,
        custom_ids=[custom_id for custom_id, _ in entries],
        params=[params for _, params in entries],
        succeeded=succeeded,
        errored=errored,
        marked_canceled=forced["canceled"],
        marked_expired=forced["expired"],
        submissions=list(submissions),
    )


@dataclass(frozen=True, slots=True)
class Counts:
    """``request_counts``; always sums to the batch's request total."""

    processing: int
    succeeded: int
    errored: int
    canceled: int
    expired: int


@dataclass(frozen=True, slots=True)
class Tally:
    """How the batch ends: why, and how many planned successes/errors got done."""

    kind: CutKind
    succeeded_done: int
    errored_done: int


@dataclass(frozen=True, slots=True)
class View:
    """The batch as observed at one emulated instant."""

    status: Status
    counts: Counts
    ended_at: float | None
    archived: bool


def end_time(batch: Batch) -> float:
    """Emulated instant at which the batch becomes ``ended``."""
    expiry = batch.created + DAY
    if batch.cancel_at is not None:
        return min(batch.cancel_at + batch.cancel_seconds, expiry)
    return min(batch.created + batch.processing_seconds, expiry)


def is_ended(batch: Batch, now: float) -> bool:
    """Whether the batch has ended at ``now``."""
    return now >= end_time(batch)


def is_archived(batch: Batch, now: float) -> bool:
    """Whether results have been archived (29 days after creation) at ``now``."""
    return now >= batch.created + ARCHIVE_AFTER


def tally(batch: Batch) -> Tally:
    """Final outcome split (valid once the batch has ended)."""
    if batch.cancel_at is not None:
        kind: CutKind = "cancel"
        cut = batch.cancel_at
    elif batch.processing_seconds > DAY:
        kind, cut = "expire", batch.created + DAY
    else:
        return Tally("natural", len(batch.succeeded), len(batch.errored))
    done_s, done_e = _done(batch, cut)
    return Tally(kind, done_s, done_e)


def final_counts(batch: Batch) -> Counts:
    """``request_counts`` of the ended batch."""
    result = tally(batch)
    undone = (len(batch.succeeded) - result.succeeded_done) + (
        len(batch.errored) - result.errored_done
    )
    canceled = len(batch.marked_canceled)
    expired = len(batch.marked_expired)
    if result.kind == "cancel":
        canceled += undone + expired
        expired = 0
    elif result.kind == "expire":
        expired += undone
    return Counts(0, result.succeeded_done, result.errored_done, canceled, expired)


def view(batch: Batch, now: float, *, gradual: bool, hold_open: bool = False) -> View:
    """Observe ``batch`` at ``now``; ``hold_open`` renders it not-yet-ended (create/cancel)."""
    archived = is_archived(batch, now)
    if not hold_open and is_ended(batch, now):
        return View("ended", final_counts(batch), end_time(batch), archived)
    status: Status = "canceling" if batch.cancel_at is not None else "in_progress"
    done_s, done_e = 0, 0
    if gradual:
        horizon = now if batch.cancel_at is None else min(now, batch.cancel_at)
        done_s, done_e = _done(batch, horizon)
    counts = Counts(batch.total - done_s - done_e, done_s, done_e, 0, 0)
    return View(status, counts, None, archived)


def begin_cancel(batch: Batch, now: float, cancel_seconds: float) -> None:
    """Start canceling an ``in_progress`` batch; idempotent while ``canceling``."""
    with batch.lock:
        if is_ended(batch, now):
            raise invalid_request(
                f"Message Batch {batch.id} has already ended and can no longer be canceled."
            )
        if batch.cancel_at is None:
            batch.cancel_at = now
            batch.cancel_seconds = cancel_seconds


def _done(batch: Batch, at: float) -> tuple[int, int]:
    fraction = _fraction(batch, at)
    return (
        math.floor(fraction * len(batch.succeeded)),
        math.floor(fraction * len(batch.errored)),
    )


def _fraction(batch: Batch, at: float) -> float:
    elapsed = at - batch.created
    if elapsed <= 0:
        return 0.0
    if batch.processing_seconds <= 0:
        return 1.0
    return min(1.0, elapsed / batch.processing_seconds)
