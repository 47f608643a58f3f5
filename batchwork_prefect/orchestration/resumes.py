"""How often the poller may resume one run: a bound on resumes that find nothing to report.

A run the poller resumes either ends (it reports its batches' end, an error or its deadline),
goes on to its next retry round (it suspends again while other batches run: progress), or
finds a batch still running and suspends again, over the same batches. The last is a resume
for nothing: the poller and the run saw the batch differently (credentials that
differ between them, a passing error at the run's own check). Each such resume costs a
flow-run process, so the poller keeps a log per run, `batchwork-resumed-<flow run id>` (a
Prefect Variable only the poller writes), backs off between those resumes and, after
`FRUITLESS_LIMIT` of them in a row, stops resuming the run and says why. A suspension that
waits on other batches than the one resumed (the next retry round's) is not for nothing.

The policy is pure (`resume_gate`); the log is read and written by `wait_store.WaitStore`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

RESUMES_PREFIX = "batchwork-resumed-"

FRUITLESS_LIMIT = 5
"""Resumes in a row that each ended in the run suspending again; then the poller stops."""

FRUITLESS_BACKOFF = 60.0
"""Seconds before the resume after the first fruitless one; doubling with each further one."""


class ResumeLog(BaseModel):
    """The poller's last resume of a run, and how many before it were for nothing."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    run: str
    suspension: str = Field(description="The suspension key the poller last resumed.")
    resumed_at: float = Field(description="When, epoch seconds.")
    fruitless: int = Field(
        default=0, ge=0, description="Resumes before it that ended in a new suspension."
    )
    batches: tuple[str, ...] = Field(
        default=(), description="The batch ids the resumed suspension waited on."
    )

    @field_validator("run")
    @classmethod
    def _a_flow_run_id(cls, run: str) -> str:
        return str(UUID(run))

    @property
    def name(self) -> str:
        return resumes_name(self.run)


def resumes_name(run: str) -> str:
    return f"{RESUMES_PREFIX}{run}"


class Gate(StrEnum):
    """Whether the poller may resume a run's current suspension."""

    NOW = "now"
    LATER = "later"  # backing off after resumes for nothing
    DONE = "done"  # the poller resumed this very suspension already
    NEVER = "never"  # too many resumes for nothing: a person has to look


@dataclass(frozen=True)
class Decision:
    gate: Gate
    at: float  # when the resume may happen (LATER), else 0
    fruitless: int  # the poller's resumes of this run so far that ended in a new suspension


def fruitless_delay(fruitless: int) -> float:
    """Seconds after the last resume before the next one, `fruitless` of them for nothing."""
    if fruitless <= 0:
        return 0.0
    return FRUITLESS_BACKOFF * 2.0 ** (fruitless - 1)


def resume_gate(
    log: ResumeLog | None, suspension: str, now: float, batches: Collection[str] = ()
) -> Decision:
    """May the poller resume the run, now suspended under `suspension` on `batches`?

    A suspension other than the one the log names means the poller's last resume ended in
    the run suspending again, with nothing reported: one more resume for nothing. Unless it
    waits on none of the batches resumed then: the run went on to its next retry round."""
    if log is None:
        return Decision(Gate.NOW, 0.0, 0)
    if log.suspension == suspension:
        return Decision(Gate.DONE, 0.0, log.fruitless)
    if batches and log.batches and set(batches).isdisjoint(log.batches):
        return Decision(Gate.NOW, 0.0, 0)
    fruitless = log.fruitless + 1
    if fruitless >= FRUITLESS_LIMIT:
        return Decision(Gate.NEVER, 0.0, fruitless)
    at = log.resumed_at + fruitless_delay(fruitless)
    return Decision(Gate.NOW if now >= at else Gate.LATER, at, fruitless)


def after_resume(
    log: ResumeLog | None, run: str, suspension: str, now: float, batches: Collection[str] = ()
) -> ResumeLog:
    """The log once the poller has resumed `suspension` (waiting on `batches`)."""
    fruitless = resume_gate(log, suspension, now, batches).fruitless
    return ResumeLog(
        run=run,
        suspension=suspension,
        resumed_at=now,
        fruitless=fruitless,
        batches=tuple(sorted(batches)),
    )


def gave_up_message(run: str, fruitless: int) -> str:
    """Why the poller no longer resumes a run, and the fix."""
    return (
        f"not resuming run {run} again: the poller resumed it {fruitless} times in a row and "
        "each time it found a batch still running and suspended again. The poller and the run "
        "see the batch differently: give the poller the run's credentials (the same saved "
        "block, or the same provider env vars as the workers), then delete "
        f"`{resumes_name(run)}` (`prefect variable unset {resumes_name(run)}`) so the "
        "poller resumes it again, or resume or cancel the run by hand"
    )
