"""A provider may end its results with the batch's settled counts: they are checked instead."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from batchwork_prefect.core.results import ResultsAudit, read_results
from batchwork_prefect.models import (
    BatchResult,
    BatchSnapshot,
    BatchStatus,
    RequestCounts,
    ResultStatus,
)

REPORTED = BatchSnapshot(
    id="batch_1",
    provider="openai",
    status=BatchStatus.EXPIRED,
    request_counts=RequestCounts(total=2, succeeded=1, errored=1),
    provider_status="expired",
)


class _Provider:
    name = "openai"

    def __init__(self, settled: RequestCounts | None) -> None:
        self._settled = settled
        self.custom_ids: Sequence[str] | None = None

    def results(
        self, snapshot: BatchSnapshot, *, custom_ids: Sequence[str] | None = None
    ) -> Iterator[BatchResult | bytes | BatchSnapshot]:
        self.custom_ids = custom_ids
        yield BatchResult.of("a", ResultStatus.SUCCEEDED, snapshot.id, text="x")
        yield BatchResult.of("b", ResultStatus.EXPIRED, snapshot.id)
        if self._settled is not None:
            yield snapshot.model_copy(update={"request_counts": self._settled})


def _read(provider: _Provider) -> tuple[list[BatchResult], ResultsAudit]:
    audit = ResultsAudit()
    results = list(read_results(provider, [REPORTED], audit, [["a", "b"]]))  # type: ignore[arg-type]
    return results, audit


def test_results_are_checked_against_the_settled_counts() -> None:
    provider = _Provider(RequestCounts(total=2, succeeded=1, expired=1))
    results, audit = _read(provider)
    assert [r.custom_id for r in results] == ["a", "b"]
    assert audit.problems == []
    assert provider.custom_ids == ["a", "b"]


@pytest.mark.parametrize(
    "settled",
    [None, RequestCounts(total=3, succeeded=1, expired=2)],
)
def test_without_them_or_when_they_disagree_the_problem_is_reported(
    settled: RequestCounts | None,
) -> None:
    _, audit = _read(_Provider(settled))
    assert audit.problems
