"""The `batchwork-json` result serializer, as the Prefect server hands it back."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from prefect.results import ResultRecordMetadata

from batchwork_prefect.errors import BatchworkError, StoredRecordError
from batchwork_prefect.models import (
    BatchResult,
    BatchResults,
    BatchSnapshot,
    BatchStatus,
    PartHandle,
    RequestCounts,
    ResultStatus,
)
from batchwork_prefect.orchestration.sealing import BatchworkSerializer, seal

HANDLE = PartHandle(
    provider="anthropic",
    model="claude-x",
    digest="d" * 64,
    batch_id="msgbatch_1",
    custom_ids=["a"],
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


def test_a_stored_handle_s_metadata_still_reads_as_a_part_handle() -> None:
    # Every stored submit.json names its serializer's model "BatchHandle", the record kind.
    metadata = ResultRecordMetadata.model_validate(
        {
            "storage_key": "k",
            "serializer": {"type": "batchwork-json", "model": "BatchHandle"},
            "prefect_version": "3",
        }
    )
    assert isinstance(metadata.serializer, BatchworkSerializer)
    loaded = metadata.serializer.loads(metadata.serializer.dumps(HANDLE))
    assert isinstance(loaded, PartHandle) and loaded == HANDLE


SNAPSHOT = BatchSnapshot(
    id="msgbatch_1",
    provider="anthropic",
    status=BatchStatus.COMPLETED,
    request_counts=RequestCounts(total=1, succeeded=1),
    provider_status="ended",
)


@pytest.mark.parametrize("value", [HANDLE, RESULTS, SNAPSHOT])
def test_without_a_model_the_json_says_which_it_is(
    value: PartHandle | BatchResults | BatchSnapshot,
) -> None:
    serializer = BatchworkSerializer()
    assert serializer.loads(serializer.dumps(value)) == value


def test_a_named_model_refuses_the_other() -> None:
    with pytest.raises(TypeError, match="expected a PartHandle"):
        BatchworkSerializer(model="BatchHandle").dumps(RESULTS)
    with pytest.raises(
        StoredRecordError, match="not a persisted PartHandle, BatchSnapshot or BatchResults"
    ):
        BatchworkSerializer().loads(seal(b'{"something": 1}'))


@pytest.mark.parametrize("model", ["BatchResults", None])
def test_an_edited_or_unsealed_record_is_refused(model: str | None) -> None:
    serializer = BatchworkSerializer(model=model)  # type: ignore[arg-type]
    sealed = serializer.dumps(RESULTS)
    assert sealed.startswith(b'{"sha256":"')
    with pytest.raises(StoredRecordError, match="sha256"):
        serializer.loads(sealed.replace(b"hi", b"ho"))
    with pytest.raises(StoredRecordError, match="sha256"):
        serializer.loads(RESULTS.model_dump_json().encode())  # no digest: not trusted
    with pytest.raises(StoredRecordError):
        serializer.loads(sealed[:-5])


def test_a_failed_tasks_exception_still_reads_back() -> None:
    serializer = BatchworkSerializer(model="BatchHandle")
    error = serializer.loads(serializer.dumps(ValueError("boom")))
    assert isinstance(error, BatchworkError) and "boom" in str(error)


def _legacy(**changes: object) -> dict[str, object]:
    """A handle as version 0.1 persisted it: lists of batch ids and of their custom_ids."""
    legacy = HANDLE.model_dump(mode="json")
    legacy["batch_ids"] = [legacy.pop("batch_id")]
    legacy["custom_ids"] = [legacy["custom_ids"]]
    legacy.update(changes)
    return legacy


def test_a_handle_written_by_0_1_still_loads_through_the_serializer() -> None:
    blob = seal(orjson.dumps(_legacy()))
    assert BatchworkSerializer(model=None).loads(blob) == HANDLE
    assert BatchworkSerializer(model="BatchHandle").loads(blob) == HANDLE


def test_a_0_1_handle_of_several_batches_is_refused_clearly() -> None:
    blob = seal(orjson.dumps(_legacy(batch_ids=["msgbatch_1", "msgbatch_2"])))
    with pytest.raises(StoredRecordError, match="several provider batches"):
        BatchworkSerializer(model="BatchHandle").loads(blob)


@pytest.mark.parametrize(
    ("model", "body", "problem"),
    [
        ("BatchResults", b'{"results": 5}', "(results: Input should be a valid array)"),
        ("BatchResults", b'{"batch_ids": "msgbatch_1"}', "(batch_ids: Input should be a valid"),
        ("BatchResults", b'{"something": 1}', "(no batch_ids)"),
        ("BatchResults", b'{"results": [], "batch_ids": []}', "(no batch_ids)"),
        ("BatchResults", b'{"results": [}', "(Invalid JSON: "),
        ("BatchHandle", b'{"submitted_at": 5}', "(provider: Field required)"),
        ("BatchSnapshot", b'{"id": ]}', "(unexpected character"),
        (None, b'{"request_counts": []}', "(id: Field required)"),
    ],
)
def test_a_resealed_record_of_the_wrong_shape_is_a_stored_record_error(
    model: str | None, body: bytes, problem: str
) -> None:
    with pytest.raises(StoredRecordError) as caught:
        BatchworkSerializer(model=model).loads(seal(body))  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("a persisted batchwork record matches its sha256 digest but is ")
    assert problem in message
    assert "Rerun the flow" in message


def test_an_unsealed_blob_that_is_not_json_is_a_stored_record_error() -> None:
    with pytest.raises(StoredRecordError, match="does not match its sha256 digest"):
        BatchworkSerializer(model="BatchHandle").loads(b"\x00 not json")
