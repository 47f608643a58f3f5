"""Wait records: what a released flow run waits for, kept on the Prefect server.

A `run_batch` run in release mode writes one record per provider batch (part) before it
suspends itself; the managed poller (`poller.py`) reads them, polls each batch on its own
schedule, and resumes the run once all of its batches have ended or its deadline has passed.
The records are Prefect Variables named `batchwork-wait-<flow run id>-<part>` holding JSON,
so the poller keeps no state of its own: a restarted poller, or a second one, reads the same
schedule.

Each variable has one writer. Prefect's variable update replaces the value with no
condition (there is no version to compare), so a poller writing a record back could put an
older suspension key over the run's newer one. The run alone writes its record; the poller
writes what it learns (`Schedule`: status, polls, next poll, error) to its own variable,
`batchwork-poll-<flow run id>-<part>`, tagged with the suspension it was learnt under, and a
reader merges the two only when the suspension keys match (`merged`).

The schedule itself is pure (`after_poll`, `after_failed_poll`, `verdict`); the I/O is
`wait_store.WaitStore`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from batchwork_prefect.core.polling import next_poll_delay, poll_error_delay
from batchwork_prefect.models import BatchStatus

PREFIX = "batchwork-wait-"
SCHEDULE_PREFIX = "batchwork-poll-"


class WaitRecord(BaseModel):
    """One provider batch a suspended flow run waits for, and when to poll it next."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    run: str = Field(description="The flow run that waits (and is resumed).")
    part: int = Field(ge=0)
    parts: int = Field(ge=1, description="How many records the run wrote (one per part).")
    provider: str
    batch_id: str
    credentials: str | None = Field(
        description="The saved credentials block's name; None: the poller's env vars."
    )
    started: float = Field(description="When the wait began (the submit), epoch seconds.")
    deadline: float | None = Field(description="Give up at this time (None: never).")
    poll_interval: float = Field(gt=0)
    max_poll_interval: float = Field(gt=0)
    next_poll: float = Field(description="When to poll next, epoch seconds.")
    status: BatchStatus = BatchStatus.VALIDATING
    polls: int = Field(default=0, ge=0)
    failures: int = Field(default=0, ge=0, description="Failed polls in a row.")
    error: str | None = Field(
        default=None, description="A definite poll error: the run is resumed to report it."
    )
    suspension: str = Field(description="The suspend key of the run's current suspension.")
    written: float = Field(description="When the run wrote the record, epoch seconds.")

    @field_validator("run")
    @classmethod
    def _a_flow_run_id(cls, run: str) -> str:
        return str(UUID(run))  # a record of anything else is not ours

    @property
    def name(self) -> str:
        return record_name(self.run, self.part)

    @property
    def ended(self) -> bool:
        return self.status.is_terminal


def record_name(run: str, part: int) -> str:
    return f"{PREFIX}{run}-{part}"


def schedule_name(run: str, part: int) -> str:
    return f"{SCHEDULE_PREFIX}{run}-{part}"


class Schedule(BaseModel):
    """The poller's part of a wait record, learnt under one suspension of the run."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    run: str
    part: int = Field(ge=0)
    suspension: str
    next_poll: float
    status: BatchStatus
    polls: int = Field(ge=0)
    failures: int = Field(ge=0)
    error: str | None = None

    @property
    def name(self) -> str:
        return schedule_name(self.run, self.part)


POLLER_FIELDS = ("next_poll", "status", "polls", "failures", "error")
"""The fields of a record the poller learns; the run owns every other one."""


def schedule_of(record: WaitRecord) -> Schedule:
    """What the poller writes back after polling `record`'s batch."""
    return Schedule.model_validate(
        {"run": record.run, "part": record.part, "suspension": record.suspension}
        | {name: getattr(record, name) for name in POLLER_FIELDS}
    )


def merged(record: WaitRecord, schedule: Schedule | None) -> WaitRecord:
    """The record as the poller sees it: the run's, with the poller's schedule if it was
    learnt under the same suspension (one of an earlier suspension is stale)."""
    if schedule is None or (schedule.run, schedule.part, schedule.suspension) != (
        record.run,
        record.part,
        record.suspension,
    ):
        return record
    return record.model_copy(update={name: getattr(schedule, name) for name in POLLER_FIELDS})


# -- the schedule (pure) -----------------------------------------------------------------


def first_poll(started: float, now: float, poll_interval: float, max_poll_interval: float) -> float:
    """When a batch found running at `now` (its wait began at `started`) is polled next."""
    return now + next_poll_delay(
        now - started, poll_interval=poll_interval, max_poll_interval=max_poll_interval
    )


def after_poll(
    record: WaitRecord,
    status: BatchStatus,
    now: float,
    *,
    retry_after: float | None = None,
    random_fraction: float = 0.0,
) -> WaitRecord:
    """The record after a poll answered `status` at `now`: `wait`'s own schedule."""
    delay = next_poll_delay(
        now - record.started,
        poll_interval=record.poll_interval,
        max_poll_interval=record.max_poll_interval,
        retry_after=retry_after,
        random_fraction=random_fraction,
    )
    return record.model_copy(
        update={
            "status": status,
            "polls": record.polls + 1,
            "failures": 0,
            "next_poll": now + delay,
        }
    )


def after_failed_poll(
    record: WaitRecord,
    error: str,
    now: float,
    *,
    transient: bool,
    retry_after: float | None = None,
    random_fraction: float = 0.0,
) -> WaitRecord:
    """The record after a poll failed at `now`: backoff if `transient`, else kept for the run.

    A definite error (bad credentials, unknown batch) is the run's to report: the run is
    resumed, and its own check meets the same error and fails with it."""
    if not transient:
        return record.model_copy(update={"error": error, "polls": record.polls + 1})
    failures = record.failures + 1
    delay = poll_error_delay(
        failures,
        poll_interval=record.poll_interval,
        max_poll_interval=record.max_poll_interval,
        retry_after=retry_after,
        random_fraction=random_fraction,
    )
    return record.model_copy(
        update={"failures": failures, "polls": record.polls + 1, "next_poll": now + delay}
    )


class Verdict(StrEnum):
    """What a poller does with a run, given its records."""

    WAIT = "wait"
    RESUME = "resume"


@dataclass(frozen=True)
class RunView:
    """A waiting run as its records show it."""

    run: str
    records: tuple[WaitRecord, ...]

    @property
    def complete(self) -> bool:
        """Whether every part's record is there (a run writes them one by one)."""
        parts = {record.part for record in self.records}
        return len(parts) == self.records[0].parts

    @property
    def suspension(self) -> str | None:
        """The suspension the records describe; None while the run rewrites them (their
        keys differ)."""
        keys = {record.suspension for record in self.records}
        return keys.pop() if len(keys) == 1 else None

    @property
    def deadline(self) -> float | None:
        deadlines = [r.deadline for r in self.records if r.deadline is not None]
        return min(deadlines) if deadlines else None

    @property
    def oldest_start(self) -> float:
        return min(record.started for record in self.records)

    def verdict(self, now: float) -> Verdict:
        """RESUME once every batch has ended, one failed for good, or the deadline passed."""
        if self.suspension is None:
            return Verdict.WAIT
        if any(record.error is not None for record in self.records):
            return Verdict.RESUME
        deadline = self.deadline
        if deadline is not None and now >= deadline:
            return Verdict.RESUME
        if self.complete and all(record.ended for record in self.records):
            return Verdict.RESUME
        return Verdict.WAIT


def by_run(records: Iterable[WaitRecord]) -> list[RunView]:
    """The records grouped by their run, oldest wait first."""
    runs: dict[str, list[WaitRecord]] = {}
    for record in records:
        runs.setdefault(record.run, []).append(record)
    views = [
        RunView(run, tuple(sorted(parts, key=lambda r: r.part))) for run, parts in runs.items()
    ]
    return sorted(views, key=lambda view: view.oldest_start)


def pollable(record: WaitRecord) -> bool:
    """Whether the record's batch is still to be polled: running, and no definite error."""
    return not record.ended and record.error is None


def suspend_timeout(deadline: float | None, now: float, grace: float) -> int | None:
    """Seconds Prefect keeps the run suspended before failing it: past the deadline by
    `grace`, so a poller resumes it first and the run itself cancels its batches."""
    if deadline is None:
        return None
    return max(math.ceil(deadline - now + grace), 1)
