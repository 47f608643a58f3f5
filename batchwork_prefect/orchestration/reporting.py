"""What a batch shows in Prefect: logs, the progress artifact of each part, events.

The summary and preview artifacts are made in `summary.py`; every artifact's key in
`artifact_keys.py`, so each scope's artifacts keep a history in the UI (Artifacts page).
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_progress_artifact,
    update_progress_artifact,
)
from prefect.context import FlowRunContext, TaskRunContext
from prefect.events import emit_event
from prefect.logging import get_run_logger

from batchwork_prefect.errors import BatchworkError
from batchwork_prefect.models import BatchResults, BatchSnapshot, BatchStatus, PartHandle
from batchwork_prefect.orchestration._sync import sync
from batchwork_prefect.orchestration.artifact_keys import artifact_key

EVENT_ENDED = "batchwork.batch.ended"
"""The event emitted once per provider batch when its results have been read."""


def batch_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run's logger inside a flow or task run; the package's logger elsewhere."""
    if TaskRunContext.get() is not None or FlowRunContext.get() is not None:
        return get_run_logger()
    return logging.getLogger("batchwork_prefect")


class Progress:
    """Logs status changes and keeps a progress artifact (finished / total) current."""

    def __init__(self, handle: PartHandle, scope: str | None) -> None:
        self._handle = handle
        self._key = artifact_key("progress", scope, handle.part)
        self._status: BatchStatus | None = None
        self._finished = -1
        self._percent = 0.0
        self._failing = False
        self._artifact: UUID | None = None

    def failed(self, error: BatchworkError, failures: int) -> None:
        """A poll failed on a passing fault; the wait goes on. Log it and show it."""
        get_run_logger().warning(
            "Polling %s failed %d time(s) in a row; still waiting: %s",
            self._handle.batch_id,
            failures,
            error,
        )
        self._show(
            f"{failures} failed poll(s) in a row, retrying: {str(error)[:200]}", failing=True
        )

    def update(self, snapshot: BatchSnapshot) -> None:
        """A poll answered: log a status change and show the finished count."""
        counts = snapshot.request_counts
        if snapshot.status is not self._status:
            get_run_logger().info(
                "Batch %s is %s (%d/%d finished)",
                self._handle.batch_id,
                snapshot.status.value,
                counts.finished,
                counts.total,
            )
            self._status = snapshot.status
        if counts.finished == self._finished and self._artifact is not None and not self._failing:
            return
        self._finished = counts.finished
        self._percent = 100.0 * counts.finished / counts.total if counts.total else 0.0
        self._show(f"{counts.finished}/{counts.total} finished")

    def _show(self, note: str, *, failing: bool = False) -> None:
        self._failing = failing  # a failure shown is replaced by the next good poll
        handle = self._handle
        description = (
            f"Part {handle.part + 1}/{handle.parts}, provider batch {handle.batch_id}: {note}"
        )
        if self._artifact is None:
            self._artifact = sync(
                create_progress_artifact(self._percent, key=self._key, description=description)
            )
        else:
            update_progress_artifact(self._artifact, self._percent, description=description)


def emit_ended(
    handle: PartHandle, snapshot: BatchSnapshot, results: BatchResults, root_run: str | None
) -> None:
    """Emit `batchwork.batch.ended` for the part's provider batch, with what its results cost.

    `cost` is the `BatchCost` as JSON (dollar amounts as decimal strings), or None with
    `unpriced_reason` saying why. Prefect relates the event to the current flow run, its
    flow, deployment and tags; the outermost flow run is added when this is a subflow's.
    """
    related: list[dict[str, str]] = []
    if root_run is not None:
        related.append(
            {"prefect.resource.id": f"prefect.flow-run.{root_run}", "prefect.resource.role": "root"}
        )
    emit_event(
        event=EVENT_ENDED,
        resource={
            "prefect.resource.id": f"batchwork.batch.{snapshot.id}",
            "prefect.resource.name": snapshot.id,
            "batchwork.provider": handle.provider,
        },
        related=related,
        payload={
            "batch_id": snapshot.id,
            "provider": handle.provider,
            "model": handle.model,
            "status": snapshot.status.value,
            "request_counts": snapshot.request_counts.model_dump(),
            "digest": handle.digest,
            "part": handle.part,
            "parts": handle.parts,
            "attempt": handle.attempt,
            **cost_fields(results),
        },
    )


def cost_fields(results: BatchResults) -> dict[str, Any]:
    """`cost` (the `BatchCost` as JSON, or None) and `unpriced_reason` (None if priced)."""
    cost = results.cost
    return {
        "cost": None if cost is None else cost.model_dump(mode="json"),
        "unpriced_reason": results.unpriced_reason,
    }


def cost_line(results: BatchResults) -> str:
    """The cost as one line: the total and the price data, or why it is not priced."""
    cost = results.cost
    return f"not priced: {results.unpriced_reason}" if cost is None else cost.describe()
