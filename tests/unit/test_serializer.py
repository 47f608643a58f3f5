"""The `batchwork-json` result serializer, as the Prefect server hands it back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prefect.results import ResultRecordMetadata

from batchwork_prefect.models import BatchHandle, BatchResult, BatchResults, ResultStatus
from batchwork_prefect.persistence import BatchworkSerializer

HANDLE = BatchHandle(
    provider="anthropic",
    model="claude-x",
    digest="d" * 64,
    batch_ids=["msgbatch_1"],
    custom_ids=[["a"]],
    submitted_at=datetime(2026, 11, 25, tzinfo=UTC),
)
RESULTS = BatchResults(
    batch_ids=["msgbatch_1"],
    results=[BatchResult(custom_id="a", status=ResultStatus.SUCCEEDED, text="hi")],
)


def test_metadata_with_only_the_type_still_validates() -> None:
    # A task run's state read back from the server carries the serializer as {"type": ...}.
    metadata = ResultRecordMetadata.model_validate(
        {"storage_key": "k", "serializer": {"type": "batchwork-json"}, "prefect_version": "3"}
    )
    assert isinstance(metadata.serializer, BatchworkSerializer)
    assert metadata.serializer.model is None


@pytest.mark.parametrize("value", [HANDLE, RESULTS])
def test_without_a_model_the_json_says_which_it_is(value: BatchHandle | BatchResults) -> None:
    serializer = BatchworkSerializer()
    assert serializer.loads(serializer.dumps(value)) == value


def test_a_named_model_refuses_the_other() -> None:
    with pytest.raises(TypeError, match="expected a BatchHandle"):
        BatchworkSerializer(model="BatchHandle").dumps(RESULTS)
    with pytest.raises(ValueError, match="not a persisted"):
        BatchworkSerializer().loads(b'{"something": 1}')
