"""What `batchwork-prefect poller status` shows: every waiting batch, as the poller sees it."""

from __future__ import annotations

from typing import Any

from batchwork_prefect.orchestration.resumes import Gate, gave_up_message, resume_gate
from batchwork_prefect.orchestration.wait_store import Snapshot
from batchwork_prefect.orchestration.waits import by_run


def status_rows(snapshot: Snapshot, now: float) -> list[dict[str, Any]]:
    """One row per waiting batch, oldest wait first, then one per unreadable record."""
    rows = []
    for view in by_run(snapshot.records):
        note = None
        if view.suspension is not None:
            batches = tuple(r.batch_id for r in sorted(view.records, key=lambda r: r.part))
            decision = resume_gate(snapshot.resumes.get(view.run), view.suspension, now, batches)
            if decision.gate is Gate.DONE:
                note = "resumed: the run starts, then ends or suspends again"
            elif decision.gate is Gate.NEVER:
                note = gave_up_message(view.run, decision.fruitless)
            elif decision.gate is Gate.LATER:
                note = (
                    f"{decision.fruitless} resume(s) in a row found a batch running: the "
                    f"next resume waits {round(decision.at - now)} s"
                )
        for record in view.records:
            rows.append(
                {
                    "run": record.run,
                    "part": record.part,
                    "batch_id": record.batch_id,
                    "provider": record.provider,
                    "status": record.status.value,
                    "polls": record.polls,
                    "next_poll_in": round(record.next_poll - now, 1),
                    "waiting_for": round(now - record.started, 1),
                    "deadline_in": None
                    if record.deadline is None
                    else round(record.deadline - now, 1),
                    "error": record.error,
                    "note": note,
                    "variable": record.name,
                    "unreadable": None,
                }
            )
    for item in snapshot.unreadable:  # every key of a row, None but these two
        rows.append(dict.fromkeys(COLUMNS) | {"variable": item.name, "unreadable": item.reason})
    return rows


COLUMNS = (
    "run",
    "part",
    "batch_id",
    "provider",
    "status",
    "polls",
    "next_poll_in",
    "waiting_for",
    "deadline_in",
    "error",
    "note",
    "variable",
    "unreadable",
)
