"""One Mistral batch job: the shared timeline (``_state.Batch``) in Mistral's statuses.

``QUEUED`` is what the create response shows; a job whose input failed the checks is then
``FAILED``. Otherwise it is ``RUNNING`` until the shared timeline ends, then ``SUCCESS``;
or ``CANCELLATION_REQUESTED`` and ``CANCELLED``; or ``TIMEOUT_EXCEEDED`` when the
timeline's 24 h run out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .._clock import EmulatedClock
from .._markers import LineError, Plan, marker_plan
from .._state import Batch, end_time, final_counts, is_ended, tally, view

Status = Literal[
    "QUEUED",
    "RUNNING",
    "SUCCESS",
    "FAILED",
    "TIMEOUT_EXCEEDED",
    "CANCELLATION_REQUESTED",
    "CANCELLED",
]
TERMINAL: frozenset[str] = frozenset({"SUCCESS", "FAILED", "TIMEOUT_EXCEEDED", "CANCELLED"})
Moment = Literal["fresh", "cancel"] | None


@dataclass(frozen=True, slots=True)
class Outputs:
    """The files made once the job is done, and its result lines (for ``outputs``)."""

    output_file: str | None
    error_file: str | None
    lines: list[dict[str, object]]


@dataclass(eq=False)
class MistralJob:
    """A stored job: the shared request plan and timeline plus Mistral's fields."""

    core: Batch
    endpoint: str
    input_files: list[str]
    inline: bool
    model: str | None
    metadata: dict[str, str] | None
    timeout_hours: int
    errors: list[dict[str, object]]
    outputs: Outputs | None = field(default=None)

    @property
    def id(self) -> str:
        """The job's UUID."""
        return self.core.id


@dataclass(frozen=True, slots=True)
class JobView:
    """The job at one emulated instant."""

    status: Status
    succeeded: int
    failed: int


def plan_mistral(body: dict[str, object], submission: int = 1) -> Plan:
    """How one request ends if processing reaches it: a 400 line for a body the chat
    endpoint refuses (empty messages, a negative or non-integer ``max_tokens``), else
    the ``[[emulate:...]]`` markers decide."""
    if not body.get("messages"):
        return LineError(
            "invalid_request_error",
            "messages: List should have at least 1 item",
            validation=True,
            status=400,
        )
    limit = body.get("max_tokens")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        return LineError(
            "invalid_request_error",
            "max_tokens: Input should be an integer greater than or equal to 0",
            validation=True,
            status=400,
        )
    return marker_plan(body, submission)


def observe(job: MistralJob, now: float, *, gradual: bool, moment: Moment = None) -> JobView:
    """The job at ``now``; ``moment`` renders a create (``QUEUED``) or cancel response."""
    core = job.core
    if moment == "fresh":
        return JobView("QUEUED", 0, 0)
    if job.errors:
        return JobView("FAILED", 0, 0)
    if moment == "cancel" or not is_ended(core, now):
        seen = view(core, now, gradual=gradual, hold_open=True)
        status: Status = "CANCELLATION_REQUESTED" if core.cancel_at is not None else "RUNNING"
        return JobView(status, seen.counts.succeeded, seen.counts.errored)
    counts = final_counts(core)
    kind = tally(core).kind
    if kind == "cancel":
        status = "CANCELLED"
    elif kind == "expire":
        status = "TIMEOUT_EXCEEDED"
    else:
        status = "SUCCESS"
    return JobView(status, counts.succeeded, counts.errored)


def render(
    job: MistralJob, seen: JobView, clock: EmulatedClock, *, inline: bool
) -> dict[str, object]:
    """The ``BatchJobOut`` object; ``outputs`` (every result line) once the job has ended,
    for an inline job or when asked with ``inline=true``."""
    core = job.core

    def unix(emulated: float) -> int:
        return int(clock.to_datetime(emulated).timestamp())

    status = seen.status
    created = unix(core.created)
    outputs = job.outputs if status in TERMINAL else None
    return {
        "id": core.id,
        "object": "batch",
        "input_files": job.input_files,
        "metadata": job.metadata,
        "endpoint": job.endpoint,
        "model": job.model,
        "agent_id": None,
        "output_file": outputs.output_file if outputs else None,
        "error_file": outputs.error_file if outputs else None,
        "errors": job.errors if status == "FAILED" else [],
        "outputs": outputs.lines if outputs and (inline or job.inline) else None,
        "status": status,
        "created_at": created,
        "total_requests": core.total,
        "completed_requests": seen.succeeded + seen.failed,
        "succeeded_requests": seen.succeeded,
        "failed_requests": seen.failed,
        "started_at": None if status in ("QUEUED", "FAILED") else created,
        "completed_at": (created if status == "FAILED" else unix(end_time(core)))
        if status in TERMINAL
        else None,
    }
