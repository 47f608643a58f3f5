"""What a provider batch looks like from outside: its status, counts, snapshot and handle."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

JOB_ID_SEPARATOR = ","
"""Joins the provider batch ids of a job split into parts into one `BatchJob.id`."""


class BatchStatus(StrEnum):
    """Where a batch is, in the same words for every provider."""

    VALIDATING = "validating"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True once the batch will not change any more."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.EXPIRED, BatchStatus.CANCELLED}
)


class RequestCounts(BaseModel):
    """How many of a batch's requests are in each state."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    total: int = Field(default=0, ge=0)
    processing: int = Field(default=0, ge=0)
    succeeded: int = Field(default=0, ge=0)
    errored: int = Field(default=0, ge=0)
    canceled: int = Field(default=0, ge=0)
    expired: int = Field(default=0, ge=0)

    @property
    def finished(self) -> int:
        """Requests no longer processing."""
        return self.succeeded + self.errored + self.canceled + self.expired

    def __add__(self, other: RequestCounts) -> RequestCounts:
        return RequestCounts(
            total=self.total + other.total,
            processing=self.processing + other.processing,
            succeeded=self.succeeded + other.succeeded,
            errored=self.errored + other.errored,
            canceled=self.canceled + other.canceled,
            expired=self.expired + other.expired,
        )


class BatchProblem(BaseModel):
    """One reason a provider gave for failing a whole batch (OpenAI: its input file's errors)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    code: str
    message: str
    line: int | None = Field(default=None, description="The input line it names, from 1.")
    param: str | None = Field(default=None, description="The request field it names.")


class BatchSnapshot(BaseModel):
    """What a provider said about a batch at one moment.

    For a job spread over several provider batches, `id` joins their ids with commas and
    `parts` holds each batch's own snapshot.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    provider: str
    status: BatchStatus
    request_counts: RequestCounts
    provider_status: str = Field(description="The status word as the provider sent it.")
    created_at: datetime | None = None
    ended_at: datetime | None = None
    expires_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    results_url: str | None = None
    retry_after: float | None = Field(default=None, description="The provider's poll hint, s.")
    parts: tuple[BatchSnapshot, ...] = ()
    digest: str | None = Field(
        default=None,
        description="The content digest recorded with the batch when it was created, where "
        "the provider keeps one (OpenAI: in its metadata); finds a lost create exactly.",
    )
    errors: tuple[BatchProblem, ...] = Field(
        default=(), description="Why the provider failed the whole batch, if it did."
    )


class PartHandle(BaseModel):
    """What identifies one submitted part later: its provider batch and what went into it.

    `digest` is always the whole batch's; `part_digest` the part's own.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    provider: str
    model: str
    digest: str = Field(description="sha256 of the whole batch's encoded requests.")
    batch_id: str = Field(description="The provider batch of this part.")
    custom_ids: list[str] = Field(description="The custom_ids sent in this part, in order.")
    submitted_at: datetime
    part: int = Field(default=0, ge=0, description="Which part of the batch, from 0.")
    parts: int = Field(default=1, ge=1, description="How many parts the batch has.")
    part_digest: str | None = Field(
        default=None, description="sha256 of this part's encoded requests (None: the digest)."
    )
    attempt: int = Field(
        default=1, ge=1, description="Which submission of these requests: 1, or a retry round."
    )

    @model_validator(mode="before")
    @classmethod
    def _one_batch(cls, data: Any) -> Any:
        # handles written by 0.1 held lists: `batch_ids: [id]`, `custom_ids: [[...]]`
        if isinstance(data, dict) and "batch_ids" in data and "batch_id" not in data:
            data = dict(data)
            batch_ids, custom_ids = data.pop("batch_ids"), data.get("custom_ids")
            if not isinstance(batch_ids, list) or len(batch_ids) != 1:
                raise ValueError(
                    "a handle of several provider batches, written by an earlier version, "
                    "cannot be resumed: rerun under a new idempotency key (or a new run)"
                )
            data["batch_id"] = batch_ids[0]
            if isinstance(custom_ids, list) and len(custom_ids) == 1:
                data["custom_ids"] = custom_ids[0]
        return data
