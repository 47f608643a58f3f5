"""Sealed records: a model's JSON with a sha256 of the rest of it in front, and the Prefect
result serializer that writes and reads them (no pickle, no class paths).

A record that does not match its digest, or that matches it but is not the model it should
be (sealed again by hand), raises `StoredRecordError`: it is never returned as if true.
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

import orjson
from prefect.serializers import Serializer
from pydantic import BaseModel, ValidationError

from batchwork_prefect.errors import BatchworkError, StoredRecordError
from batchwork_prefect.models import BatchResults, BatchSnapshot, PartHandle, results_json

# "BatchHandle" is the record kind every stored submit.json names (its serializer's `model`):
# kept so that records already written read as the PartHandle they are.
ModelName = Literal["BatchHandle", "BatchSnapshot", "BatchResults"]
_MODELS: dict[str, type[BaseModel]] = {
    "BatchHandle": PartHandle,
    "BatchSnapshot": BatchSnapshot,
    "BatchResults": BatchResults,
}
_SEALED = b'{"sha256":"'
_SEAL_END = len(_SEALED) + 64 + 2  # the hex digest, then '",'


def seal(body: bytes) -> bytes:
    """A model's JSON object with the sha256 of the rest of it as its first field."""
    rest = memoryview(body)[1:]  # one copy in all, of what may be hundreds of megabytes
    return b"".join((_SEALED, hashlib.sha256(rest).hexdigest().encode(), b'",', rest))


def unseal(blob: bytes, key: str | None = None) -> bytes:
    """`blob` once checked against its digest; `StoredRecordError` (naming `key`) if it fails.

    What comes back is the model's JSON with the `sha256` field first, which reading the
    model ignores: no copy of a record that may be hundreds of megabytes.
    """
    where = repr(key) if key is not None else "a persisted batchwork record"
    view = memoryview(blob)
    digest = bytes(view[len(_SEALED) : _SEAL_END - 2])
    if (
        not blob.startswith(_SEALED)
        or blob[_SEAL_END - 2 : _SEAL_END] != b'",'
        or hashlib.sha256(view[_SEAL_END:]).hexdigest().encode() != digest
    ):
        raise StoredRecordError(
            f"{where} does not match its sha256 digest: it was edited or damaged after it "
            "was written, or written by a version that did not seal records. Rerun the flow "
            "(a run that finds it so reads the results from the provider again, which keeps "
            "them 29 days) or delete the file",
            key=key or "",
        )
    return blob


class BatchworkSerializer(Serializer):  # unsubscripted: Serializer[Any] breaks dispatch
    """Stores a batchwork model as its own JSON (no pickle, no class paths), sealed.

    The JSON carries a `sha256` of the rest of itself, checked when read: a record edited
    by hand is refused, never returned as if true. When Prefect reads it to look up a
    cached task, a refused record is a cache miss, so the task runs again (a read of the
    results goes back to the provider). `model` says which model to expect; the Prefect
    server may hand the serializer back as just `{"type": "batchwork-json"}`, so without it
    the model is recognised from the JSON itself.
    """

    type: Literal["batchwork-json"] = "batchwork-json"
    model: ModelName | None = None

    def dumps(self, obj: Any) -> bytes:
        """The model's sealed JSON (for a failed task's exception: its type and message)."""
        if isinstance(obj, BaseException):
            return orjson.dumps({"exception": type(obj).__name__, "message": str(obj)})
        expected = tuple(_MODELS.values()) if self.model is None else _MODELS[self.model]
        if not isinstance(obj, expected):
            raise TypeError(f"expected a {_shown(self.model)}, got {type(obj)}")
        if isinstance(obj, BatchResults):
            return seal(results_json(obj))
        return seal(obj.model_dump_json().encode())

    def loads(self, blob: bytes) -> Any:
        """The model back from its JSON (a failed task's exception as a `BatchworkError`).

        Anything else that is not a sealed record of the model raises `StoredRecordError`
        (Prefect takes that for a cache miss).
        """
        if not blob.startswith(_SEALED):
            try:
                data = orjson.loads(blob)
            except orjson.JSONDecodeError:
                data = None  # unseal says what is wrong with it
            if isinstance(data, dict) and "exception" in data:
                return BatchworkError(f"{data['exception']}: {data.get('message', '')}")
        body = unseal(blob)
        if self.model == "BatchResults":
            return read_results(body)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:  # sealed, so written so: not by this package
            raise _wrong_shape(None, _shown(self.model), str(exc)) from None
        model = self.model or _recognise(data)
        try:
            return _MODELS[model].model_validate(data)
        except ValidationError as exc:
            raise _wrong_shape(None, _shown(model), _first_problem(exc)) from None


def read_results(body: bytes, key: str | None = None) -> BatchResults:
    """The `BatchResults` of an unsealed record's JSON; `StoredRecordError` naming `key` if
    it is not one. Every persisted part names its provider batch: JSON without `batch_ids`
    (`{}`, another program's object) is refused, not read as no results."""
    try:
        results = BatchResults.model_validate_json(body)
    except ValidationError as exc:
        raise _wrong_shape(key, "BatchResults", _first_problem(exc)) from None
    if not results.batch_ids:
        raise _wrong_shape(key, "BatchResults", "no batch_ids")
    return results


def _recognise(data: Any) -> ModelName:
    if isinstance(data, dict) and "submitted_at" in data:
        return "BatchHandle"
    if isinstance(data, dict) and "results" in data:
        return "BatchResults"
    if isinstance(data, dict) and "request_counts" in data:
        return "BatchSnapshot"
    raise _wrong_shape(None, "PartHandle, BatchSnapshot or BatchResults", "none of them")


def _shown(model: ModelName | None) -> str:
    """The model's class name, for messages (a record kind's name may be older)."""
    return _MODELS[model].__name__ if model is not None else "batchwork model"


def _first_problem(exc: ValidationError) -> str:
    """The first of a `ValidationError`'s problems, as `where: what` (never the input)."""
    error = exc.errors()[0]
    where = ".".join(map(str, error["loc"]))
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def _wrong_shape(key: str | None, model: str, problem: str) -> StoredRecordError:
    where = repr(key) if key is not None else "a persisted batchwork record"
    return StoredRecordError(
        f"{where} matches its sha256 digest but is not a persisted {model} ({problem}): it "
        "was sealed again by hand or by another program. Rerun the flow (a run that finds "
        "it so does the step again: a read fetches the results from the provider, which "
        "keeps them 29 days) or delete the file",
        key=key or "",
    )
