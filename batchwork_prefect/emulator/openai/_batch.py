"""One OpenAI batch: the shared timeline (``_state.Batch``) seen through OpenAI's statuses.

``validating`` is what the create response shows; a batch whose file failed validation is
then ``failed``. Otherwise it is ``in_progress`` until the shared timeline ends, then
``finalizing`` for ``finalizing_seconds`` and ``completed``; or ``cancelling`` and
``cancelled``; or ``expired`` 24 h after creation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .._clock import EmulatedClock
from .._state import DAY, Batch, end_time, final_counts, is_ended, tally, view
from ._input import BatchErrorItem

Status = Literal[
    "validating",
    "failed",
    "in_progress",
    "finalizing",
    "completed",
    "expired",
    "cancelling",
    "cancelled",
]
TERMINAL: frozenset[str] = frozenset({"failed", "completed", "expired", "cancelled"})
Moment = Literal["fresh", "cancel"] | None


@dataclass(frozen=True, slots=True)
class Outputs:
    """The files made once the batch is done, and the batch's token usage."""

    output_file_id: str | None
    error_file_id: str | None
    usage: dict[str, object]


@dataclass(eq=False)
class OpenAIBatch:
    """A stored batch: the shared request plan and timeline plus OpenAI's fields."""

    core: Batch
    endpoint: str
    input_file_id: str
    completion_window: str
    metadata: dict[str, str] | None
    model: str | None
    errors: list[BatchErrorItem]
    finalizing_seconds: float
    outputs: Outputs | None = field(default=None)

    @property
    def id(self) -> str:
        """The ``batch_...`` id."""
        return self.core.id


@dataclass(frozen=True, slots=True)
class OpenAIView:
    """The batch at one emulated instant."""

    status: Status
    completed: int
    failed: int
    total: int


def observe(batch: OpenAIBatch, now: float, *, gradual: bool, moment: Moment = None) -> OpenAIView:
    """The batch at ``now``; ``moment`` renders a create (``validating``) or cancel response."""
    core = batch.core
    if moment == "fresh":
        return OpenAIView("validating", 0, 0, 0)
    if batch.errors:
        return OpenAIView("failed", 0, 0, 0)
    if moment == "cancel" or not is_ended(core, now):
        seen = view(core, now, gradual=gradual, hold_open=True)
        status: Status = "cancelling" if core.cancel_at is not None else "in_progress"
        return OpenAIView(status, seen.counts.succeeded, seen.counts.errored, core.total)
    counts = final_counts(core)
    kind = tally(core).kind
    if kind == "cancel":
        status = "cancelled"
    elif kind == "expire":
        status = "expired"
    elif now < end_time(core) + batch.finalizing_seconds:
        status = "finalizing"
    else:
        status = "completed"
    return OpenAIView(status, counts.succeeded, core.total - counts.succeeded, core.total)


def render(batch: OpenAIBatch, seen: OpenAIView, clock: EmulatedClock) -> dict[str, object]:
    """The ``batch`` object: every key present, nulls explicit, times in whole seconds."""
    core = batch.core

    def unix(emulated: float) -> int:
        return int(clock.to_datetime(emulated).timestamp())

    status = seen.status
    ended = end_time(core)
    created = unix(core.created)
    outputs = batch.outputs if status in TERMINAL else None
    cancel_at = core.cancel_at if status in ("cancelling", "cancelled") else None
    return {
        "id": core.id,
        "object": "batch",
        "endpoint": batch.endpoint,
        "model": batch.model,
        "errors": _errors(batch.errors) if status == "failed" else None,
        "input_file_id": batch.input_file_id,
        "completion_window": batch.completion_window,
        "status": status,
        "output_file_id": outputs.output_file_id if outputs else None,
        "error_file_id": outputs.error_file_id if outputs else None,
        "created_at": created,
        "in_progress_at": None if status in ("validating", "failed") else created,
        "expires_at": created + int(DAY),
        "finalizing_at": unix(ended) if status in ("finalizing", "completed") else None,
        "completed_at": unix(ended + batch.finalizing_seconds) if status == "completed" else None,
        "failed_at": created if status == "failed" else None,
        "expired_at": unix(ended) if status == "expired" else None,
        "cancelling_at": None if cancel_at is None else unix(cancel_at),
        "cancelled_at": unix(ended) if status == "cancelled" else None,
        "request_counts": {"total": seen.total, "completed": seen.completed, "failed": seen.failed},
        "usage": outputs.usage if outputs else empty_usage(),
        "metadata": batch.metadata,
    }


def empty_usage() -> dict[str, object]:
    """The batch ``usage`` before anything is counted."""
    return batch_usage(0, 0, 0, 0)


def batch_usage(prompt: int, cached: int, completion: int, reasoning: int) -> dict[str, object]:
    """The batch ``usage`` object."""
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }


def _errors(items: list[BatchErrorItem]) -> dict[str, object]:
    return {"object": "list", "data": items}
