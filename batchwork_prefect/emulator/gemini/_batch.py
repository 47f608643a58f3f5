"""One Gemini batch: the shared timeline (``_state.Batch``) seen as a long-running
Operation whose ``metadata`` is the ``GenerateContentBatch``.

``BATCH_STATE_PENDING`` in the create response (and while no emulated time has passed),
``BATCH_STATE_RUNNING`` until the timeline ends, then ``SUCCEEDED``, ``CANCELLED``
(a cancel), ``EXPIRED`` (the timeline's 24 h expiry, or a ``[[emulate:batch_expired]]``
request) or ``FAILED`` (a ``[[emulate:batch_failed]]`` request). An ended Operation has
``done: true`` and, unless it expired or failed, the output both in ``metadata.output``
and in ``response``; a failed one has ``error`` instead. Counts in ``batchStats`` are
int64, so strings, and zero counts are left out (proto3 JSON).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .._clock import EmulatedClock, rfc3339
from .._replies import user_texts
from .._state import Batch, end_time, is_ended, tally, view
from ._params import as_messages

TYPE_PREFIX = "type.googleapis.com/google.ai.generativelanguage.v1main."
Fate = Literal["failed", "expired"]
_FATE_RE = re.compile(r"\[\[emulate:batch_(failed|expired)\]\]")
FAILED_MESSAGE = "Emulated failure of the whole batch."


@dataclass(eq=False)
class GeminiBatch:
    """A stored batch: the shared request plan and timeline plus Gemini's fields."""

    core: Batch
    model: str
    display_name: str
    keys: list[str]
    inline_metadata: list[dict[str, Any] | None] | None
    """Each inline request's ``metadata`` (None for a file batch)."""
    fate: Fate | None
    file_name: str | None = None
    """The input file of a file batch (echoed as ``inputConfig.fileName``)."""
    output: dict[str, Any] | None = field(default=None)

    @property
    def id(self) -> str:
        """The id after ``batches/``."""
        return self.core.id

    @property
    def name(self) -> str:
        """``batches/<id>``."""
        return "batches/" + self.core.id


def batch_fate(requests: list[dict[str, Any]]) -> Fate | None:
    """The whole-batch marker of the first request that has one, if any."""
    for request in requests:
        for text in user_texts(as_messages(request)):
            found = _FATE_RE.search(text)
            if found is not None:
                return "failed" if found.group(1) == "failed" else "expired"
    return None


def state_of(batch: GeminiBatch, now: float, *, fresh: bool = False) -> str:
    """The ``BATCH_STATE_*`` at ``now`` (``fresh``: the create response)."""
    core = batch.core
    if fresh or (not is_ended(core, now) and now <= core.created):
        return "BATCH_STATE_PENDING"
    if not is_ended(core, now):
        return "BATCH_STATE_RUNNING"
    if batch.fate == "failed":
        return "BATCH_STATE_FAILED"
    kind = tally(core).kind
    if batch.fate == "expired" or kind == "expire":
        return "BATCH_STATE_EXPIRED"
    return "BATCH_STATE_CANCELLED" if kind == "cancel" else "BATCH_STATE_SUCCEEDED"


def render(
    batch: GeminiBatch, clock: EmulatedClock, now: float, *, gradual: bool, fresh: bool = False
) -> dict[str, Any]:
    """The Operation for ``batch`` at ``now``."""
    core = batch.core
    state = state_of(batch, now, fresh=fresh)
    ended = state not in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING")
    created = rfc3339(core.created_at)
    updated = rfc3339(clock.to_datetime(end_time(core))) if ended else created
    metadata: dict[str, Any] = {
        "@type": TYPE_PREFIX + "GenerateContentBatch",
        "model": batch.model,
        "displayName": batch.display_name,
        **({"inputConfig": {"fileName": batch.file_name}} if batch.file_name else {}),
        "createTime": created,
        "updateTime": updated,
        "batchStats": _stats(batch, now, gradual=gradual, ended=ended),
        "state": state,
        "name": batch.name,
    }
    operation: dict[str, Any] = {"name": batch.name, "metadata": metadata}
    if not ended:
        return operation
    metadata["endTime"] = updated
    operation["done"] = True
    if state == "BATCH_STATE_FAILED":
        operation["error"] = {"code": 13, "message": FAILED_MESSAGE}
    elif state != "BATCH_STATE_EXPIRED" and batch.output is not None:
        metadata["output"] = batch.output
        operation["response"] = {"@type": TYPE_PREFIX + "GenerateContentBatchOutput"}
        operation["response"].update(batch.output)
    return operation


def _stats(batch: GeminiBatch, now: float, *, gradual: bool, ended: bool) -> dict[str, str]:
    core = batch.core
    seen = view(core, now, gradual=gradual, hold_open=not ended)
    counts = seen.counts
    failed = counts.errored + counts.canceled + counts.expired
    if ended and batch.fate is not None:
        failed, succeeded, pending = core.total, 0, 0
    else:
        succeeded, pending = counts.succeeded, counts.processing
    stats = {
        "requestCount": core.total,
        "successfulRequestCount": succeeded,
        "failedRequestCount": failed,
        "pendingRequestCount": pending,
    }
    return {name: str(value) for name, value in stats.items() if value}
