"""Finding the provider batch made by a create whose answer never arrived.

A create can reach the provider and still leave the client without the batch id: the
answer is lost, or the process dies while waiting for it. Where the provider keeps a
client-set tag on a batch (OpenAI's metadata), the create records the content digest in it
and the batch is found by that digest, exactly. Elsewhere (Anthropic) the batch is
recognised by what is known about it: its request count, and a creation time close to when
the create was attempted. Batches already claimed by other records are left out. Exactly
one candidate may be adopted; none or several is for a human.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta

from batchwork_prefect.models import BatchSnapshot
from batchwork_prefect.providers.base import BatchProvider

_NEVER = datetime.min.replace(tzinfo=UTC)

CLOCK_SKEW = timedelta(minutes=5)
"""How far the provider's clock may run behind the client's."""

CREATE_WINDOW = timedelta(minutes=15)
"""How long after the attempt a create may still have been made (upload and queueing)."""


def lost_batch_candidates(
    batches: Iterable[BatchSnapshot],
    *,
    request_count: int,
    attempted_at: datetime,
    claimed: Collection[str] = (),
    skew: timedelta = CLOCK_SKEW,
    window: timedelta = CREATE_WINDOW,
    digest: str | None = None,
) -> list[BatchSnapshot]:
    """The batches that may be the one created at `attempted_at` with `request_count` requests.

    A batch qualifies when it is not in `claimed`, holds exactly `request_count` requests,
    and was created between `attempted_at - skew` and `attempted_at + window`. With
    `digest` (the provider records it), a batch qualifies when it is not in `claimed` and
    carries that digest, whatever its counts (a batch still validating reports none) or
    time: nothing is guessed.
    """
    if digest is not None:
        return [batch for batch in batches if batch.id not in claimed and batch.digest == digest]
    earliest, latest = attempted_at - skew, attempted_at + window
    return [
        batch
        for batch in batches
        if batch.id not in claimed
        and batch.request_counts.total == request_count
        and batch.created_at is not None
        and earliest <= batch.created_at <= latest
    ]


def find_lost_batch(
    provider: BatchProvider,
    *,
    request_count: int,
    attempted_at: datetime,
    claimed: Collection[str] = (),
    digest: str | None = None,
) -> list[BatchSnapshot]:
    """List the provider's batches since the attempt and return the candidates, oldest first.

    `digest` is the one the create was given (the part's): where the provider records it
    (`records_digest`), the batch is matched by it alone.
    """
    listed = provider.list_batches(created_after=attempted_at - CLOCK_SKEW)
    exact = digest if digest is not None and provider.records_digest else None
    candidates = lost_batch_candidates(
        listed,
        request_count=request_count,
        attempted_at=attempted_at,
        claimed=claimed,
        digest=exact,
    )
    return sorted(candidates, key=lambda batch: (batch.created_at or _NEVER, batch.id))
