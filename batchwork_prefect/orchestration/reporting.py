"""What a batch shows in Prefect: logs, keyed artifacts (progress, summary, preview), events.

Artifacts carry keys made of the batch's scope, so each scope's artifacts keep a history in
the UI (Artifacts page) and the latest is found by key:

    batchwork-progress-<scope>-part-<n>   progress of one part while it is awaited
    batchwork-summary-<scope>             counts by status, tokens, cost, batch ids, errors
    batchwork-preview-<scope>             the first results: custom_id, status, text or error
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.context import FlowRunContext, TaskRunContext
from prefect.events import emit_event
from prefect.logging import get_run_logger
from pydantic import BaseModel

from batchwork_prefect.core.retries import left_failing
from batchwork_prefect.core.table_csv import csv_cell
from batchwork_prefect.errors import BatchworkError
from batchwork_prefect.models import BatchHandle, BatchResults, BatchSnapshot, BatchStatus
from batchwork_prefect.orchestration._sync import sync

EVENT_ENDED = "batchwork.batch.ended"
"""The event emitted once per provider batch when its results have been read."""

PREVIEW_ROWS = 20
"""How many results the preview artifact shows."""
PREVIEW_CHARS = 120
"""How many characters of a result's text (or error) the preview shows."""
FIRST_ERRORS = 5
"""How many errors the summary lists."""

_KEY_UNSAFE = re.compile(r"[^a-z0-9-]+")
_KEY_CHARS = 100


def batch_logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run's logger inside a flow or task run; the package's logger elsewhere."""
    if TaskRunContext.get() is not None or FlowRunContext.get() is not None:
        return get_run_logger()
    return logging.getLogger("batchwork_prefect")


def artifact_key(kind: str, scope: str | None, part: int | None = None) -> str | None:
    """The key of a batch's artifact: lowercase letters, digits and dashes (None: no scope)."""
    if scope is None:
        return None
    name = _KEY_UNSAFE.sub("-", scope.lower()).strip("-")[:_KEY_CHARS]
    suffix = f"-part-{part}" if part is not None else ""  # from 0, as in the storage layout
    return f"batchwork-{kind}-{name}{suffix}"


class Progress:
    """Logs status changes and keeps a progress artifact (finished / total) current."""

    def __init__(self, handle: BatchHandle, scope: str | None) -> None:
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
        description = f"Part {handle.part + 1}/{handle.parts}, batch {handle.batch_id}: {note}"
        if self._artifact is None:
            self._artifact = sync(
                create_progress_artifact(self._percent, key=self._key, description=description)
            )
        else:
            update_progress_artifact(self._artifact, self._percent, description=description)


def emit_ended(
    handle: BatchHandle, snapshot: BatchSnapshot, results: BatchResults, root_run: str | None
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


def publish_summary(
    handles: Sequence[BatchHandle],
    results: BatchResults,
    scope: str | None,
    rounds: Sequence[BatchResults] = (),
) -> None:
    """Two table artifacts: the batch's outcome (counts, each retry round's counts, what is
    left failing and why, tokens, cost, ids, first errors) and a preview of its first
    results (custom_id, status, the start of the text or error)."""
    usage = results.usage
    rows: list[dict[str, Any]] = [
        {"field": "batch ids", "value": ", ".join(results.batch_ids)},
        {"field": "parts", "value": len(handles)},
        *({"field": status.value, "value": n} for status, n in results.counts.items()),
        *round_rows(rounds, results),
        {"field": "input tokens", "value": usage.input_tokens},
        {"field": "output tokens", "value": usage.output_tokens},
        {"field": "cache read tokens", "value": usage.cache_read_input_tokens},
        {"field": "cache creation tokens", "value": usage.cache_creation_input_tokens},
        {"field": "cost", "value": cost_line(results)},
    ]
    for result in results.by_status("errored")[:FIRST_ERRORS]:
        if result.error is not None:
            rows.append(
                {
                    "field": f"error {result.custom_id}",
                    "value": f"{result.error.type}: {result.error.message}"[:300],
                }
            )
    digest = handles[0].digest[:16] if handles else ""
    where = f" ({scope})" if scope else ""
    sync(
        create_table_artifact(
            rows,
            key=artifact_key("summary", scope),
            description=f"Results of batch {digest}{where}: {len(results)} requests",
        )
    )
    sync(
        create_table_artifact(
            preview_rows(results),
            key=artifact_key("preview", scope),
            description=f"The first {min(PREVIEW_ROWS, len(results))} of {len(results)} results "
            f"of batch {digest}{where}",
        )
    )


def round_rows(rounds: Sequence[BatchResults], results: BatchResults) -> list[dict[str, Any]]:
    """A row per round after the first (what it sent and how that ended), and what is left
    failing after the last, by reason; none for a batch read in one round with no failure."""
    rows: list[dict[str, Any]] = []
    if len(rounds) > 1:
        for attempt, one in enumerate(rounds, start=1):
            counted = ", ".join(f"{n} {s.value}" for s, n in one.counts.items() if n)
            rows.append({"field": f"round {attempt}", "value": f"{len(one)} sent: {counted}"})
            rows.append({"field": f"round {attempt} cost", "value": cost_line(one)})
        added = [one.cost for one in rounds[1:]]
        priced = [cost for cost in added if cost is not None]
        if priced and len(priced) == len(added):  # every retry round priced
            total = sum(priced[1:], start=priced[0])
            rows.append({"field": "cost of the retries", "value": total.describe()})
    reasons: dict[str, int] = {}
    for why in left_failing(results.results).values():
        reasons[why] = reasons.get(why, 0) + 1
    if reasons:
        named = ", ".join(f"{why}: {n}" for why, n in sorted(reasons.items()))
        rows.append({"field": "left failing", "value": f"{sum(reasons.values())} ({named})"})
    return rows


def preview_rows(results: BatchResults, limit: int = PREVIEW_ROWS) -> list[dict[str, str]]:
    """custom_id, status and the first characters of the text (or the error) of each result;
    in a typed batch, the parsed fields as columns (then the error) instead of the text."""
    shown = results.values()[:limit]
    parsed = [_parsed_fields(result.parsed) for result in shown]
    columns = list(dict.fromkeys(name for fields in parsed if fields for name in fields))
    rows = []
    for result, fields in zip(shown, parsed, strict=True):
        error = result.error
        problem = "" if error is None else f"{error.type}: {error.message}"
        row = {"custom_id": result.custom_id, "status": result.status.value}
        if not columns:
            row["text or error"] = _cut(problem if error is not None else result.text or "")
        else:
            for name in columns:
                value = (fields or {}).get(name)
                column = name if name not in _PREVIEW_OWN else f"parsed.{name}"
                row[column] = "" if value is None else _cut(csv_cell(value))
            row["error"] = _cut(problem)
        rows.append(row)
    return rows


_PREVIEW_OWN = frozenset({"custom_id", "status", "error"})


def _parsed_fields(parsed: Any) -> dict[str, Any] | None:
    """A parsed answer as `{field: value}`: an object's fields, else one `parsed` field."""
    if parsed is None:
        return None
    if isinstance(parsed, BaseModel):
        parsed = parsed.model_dump(mode="json", by_alias=True)  # as the schema names them
    return parsed if isinstance(parsed, dict) else {"parsed": parsed}


def _cut(shown: str) -> str:
    return shown if len(shown) <= PREVIEW_CHARS else shown[: PREVIEW_CHARS - 1] + "…"
