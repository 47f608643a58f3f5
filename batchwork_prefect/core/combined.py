"""A job of several provider batches seen as one: its snapshot and status combined. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from batchwork_prefect.models import JOB_ID_SEPARATOR, BatchSnapshot, BatchStatus, RequestCounts


def combine_snapshots(snapshots: Sequence[BatchSnapshot]) -> BatchSnapshot:
    """One snapshot for several batches: ids joined, counts added, statuses combined."""
    if len(snapshots) == 1:
        return snapshots[0]
    counts = RequestCounts()
    for snapshot in snapshots:
        counts = counts + snapshot.request_counts
    status = combine_statuses([snapshot.status for snapshot in snapshots])
    return BatchSnapshot(
        id=JOB_ID_SEPARATOR.join(snapshot.id for snapshot in snapshots),
        provider=snapshots[0].provider,
        status=status,
        request_counts=counts,
        provider_status=status.value,
        created_at=min((s.created_at for s in snapshots if s.created_at), default=None),
        ended_at=(
            max((s.ended_at for s in snapshots if s.ended_at), default=None)
            if status.is_terminal
            else None
        ),
        retry_after=max((s.retry_after or 0.0 for s in snapshots), default=0.0) or None,
        parts=tuple(snapshots),
    )


_RUNNING_ORDER = (
    BatchStatus.CANCELLING,
    BatchStatus.VALIDATING,
    BatchStatus.IN_PROGRESS,
    BatchStatus.FINALIZING,
)
_ENDED_ORDER = (
    BatchStatus.FAILED,
    BatchStatus.CANCELLED,
    BatchStatus.COMPLETED,
    BatchStatus.EXPIRED,
)


def combine_statuses(statuses: Iterable[BatchStatus]) -> BatchStatus:
    """The status of a job made of batches with these statuses.

    While any batch runs, the job runs (cancelling first, then the least advanced state).
    Once all ended: failed if any failed, else cancelled if any was, else completed if any
    completed, else expired.
    """
    present = set(statuses)
    if not present:
        raise ValueError("no statuses to combine")
    for status in _RUNNING_ORDER + _ENDED_ORDER:
        if status in present:
            return status
    raise AssertionError("unreachable")  # pragma: no cover
