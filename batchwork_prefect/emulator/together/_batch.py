"""One Together batch: the shared timeline (``_state.Batch``) seen through Together's
statuses and ``progress``.

``VALIDATING`` is what the create answers; a batch whose file failed validation is then
``FAILED`` with an ``error``. Otherwise it is ``IN_PROGRESS`` (``progress`` the share of
requests done, in percent) until the shared timeline ends, then ``COMPLETED``; a cancel
ends it at once (``CANCELLED``), and the 24 h window ends it ``EXPIRED``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from .._clock import EmulatedClock, rfc3339
from .._state import DAY, Batch, end_time, final_counts, is_ended, tally, view

Status = Literal["VALIDATING", "IN_PROGRESS", "COMPLETED", "FAILED", "EXPIRED", "CANCELLED"]
TERMINAL: frozenset[str] = frozenset({"COMPLETED", "FAILED", "EXPIRED", "CANCELLED"})


@dataclass(frozen=True, slots=True)
class Outputs:
    """The files made once the batch is done."""

    output_file_id: str | None
    error_file_id: str | None


@dataclass(eq=False)
class TogetherBatch:
    """A stored batch: the shared request plan and timeline plus Together's fields."""

    core: Batch
    endpoint: str
    input_file_id: str
    file_size_bytes: int
    model: str | None
    error: str | None
    user_id: str
    outputs: Outputs | None = field(default=None)

    @property
    def id(self) -> str:
        """The batch's UUID."""
        return self.core.id


@dataclass(frozen=True, slots=True)
class TogetherView:
    """The batch at one emulated instant."""

    status: Status
    progress: float


def observe(
    batch: TogetherBatch, now: float, *, gradual: bool, fresh: bool = False
) -> TogetherView:
    """The batch at ``now``; ``fresh`` renders the create's answer (``VALIDATING``)."""
    core = batch.core
    if fresh:
        return TogetherView("VALIDATING", 0.0)
    if batch.error is not None:
        return TogetherView("FAILED", 0.0)
    if not is_ended(core, now):
        counts = view(core, now, gradual=gradual, hold_open=True).counts
        return TogetherView("IN_PROGRESS", _percent(counts.succeeded + counts.errored, core.total))
    counts = final_counts(core)
    kind = tally(core).kind
    status: Status = {"cancel": "CANCELLED", "expire": "EXPIRED"}.get(kind, "COMPLETED")  # type: ignore[assignment]
    return TogetherView(status, _percent(counts.succeeded + counts.errored, core.total))


def render(batch: TogetherBatch, seen: TogetherView, clock: EmulatedClock) -> dict[str, object]:
    """The ``BatchJob`` object, times in RFC 3339 (UTC, ``Z``)."""
    core = batch.core
    outputs = batch.outputs if seen.status in TERMINAL else None
    ended = seen.status in TERMINAL and seen.status != "FAILED"
    completed = clock.to_datetime(end_time(core)) if ended else None
    if seen.status == "FAILED":
        completed = core.created_at
    return {
        "id": core.id,
        "user_id": batch.user_id,
        "input_file_id": batch.input_file_id,
        "file_size_bytes": batch.file_size_bytes,
        "status": seen.status,
        "job_deadline": rfc3339(core.created_at + timedelta(seconds=DAY)),
        "created_at": rfc3339(core.created_at),
        "endpoint": batch.endpoint,
        "progress": seen.progress,
        "model_id": batch.model,
        "output_file_id": outputs.output_file_id if outputs else None,
        "error_file_id": outputs.error_file_id if outputs else None,
        "error": batch.error if seen.status == "FAILED" else None,
        "completed_at": rfc3339(completed) if completed is not None else None,
    }


def _percent(done: int, total: int) -> float:
    return round(100.0 * done / total, 2) if total else 0.0
