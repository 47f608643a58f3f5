"""A lost create found by the content digest a provider records with the batch: no guessing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from batchwork_prefect.core.reconcile import CLOCK_SKEW, find_lost_batch, lost_batch_candidates
from batchwork_prefect.models import BatchSnapshot, BatchStatus, RequestCounts

ATTEMPT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DIGEST = "a" * 64


def _batch(
    batch_id: str, *, digest: str | None, total: int = 0, created_at: datetime | None = ATTEMPT
) -> BatchSnapshot:
    return BatchSnapshot(
        id=batch_id,
        provider="openai",
        status=BatchStatus.VALIDATING,
        request_counts=RequestCounts(total=total, processing=total),
        provider_status="validating",
        created_at=created_at,
        digest=digest,
    )


def _ids(batches: list[BatchSnapshot]) -> list[str]:
    return [batch.id for batch in batches]


def test_the_batch_with_the_digest_matches_whatever_its_counts_and_time() -> None:
    batches = [
        _batch("ours", digest=DIGEST, total=0, created_at=ATTEMPT + timedelta(hours=3)),
        _batch("same-size", digest="b" * 64, total=7),
        _batch("made-elsewhere", digest=None, total=7),
    ]
    found = lost_batch_candidates(batches, request_count=7, attempted_at=ATTEMPT, digest=DIGEST)
    assert _ids(found) == ["ours"]


def test_claimed_batches_are_left_out_and_no_match_is_none() -> None:
    batches = [_batch("sibling", digest=DIGEST), _batch("other", digest="c" * 64)]
    found = lost_batch_candidates(
        batches, request_count=1, attempted_at=ATTEMPT, claimed={"sibling"}, digest=DIGEST
    )
    assert found == []


class _Provider:
    def __init__(self, batches: list[BatchSnapshot], *, records_digest: bool) -> None:
        self._batches = batches
        self.records_digest = records_digest
        self.created_after: datetime | None = None

    def list_batches(self, *, created_after: datetime | None = None) -> Iterator[BatchSnapshot]:
        self.created_after = created_after
        return iter(self._batches)


def test_find_matches_by_digest_where_the_provider_records_it() -> None:
    provider = _Provider(
        [
            _batch("ours", digest=DIGEST, total=0, created_at=None),
            _batch("same-size-same-time", digest=None, total=3),
        ],
        records_digest=True,
    )
    found = find_lost_batch(provider, request_count=3, attempted_at=ATTEMPT, digest=DIGEST)  # type: ignore[arg-type]
    assert _ids(found) == ["ours"]
    assert provider.created_after == ATTEMPT - CLOCK_SKEW


def test_find_recognises_by_size_and_time_where_the_provider_records_no_digest() -> None:
    provider = _Provider([_batch("by-size", digest=None, total=3)], records_digest=False)
    found = find_lost_batch(provider, request_count=3, attempted_at=ATTEMPT, digest=DIGEST)  # type: ignore[arg-type]
    assert _ids(found) == ["by-size"]
