"""The persisted JSON of `BatchResults`: written and read with msgspec structs, for speed."""

from __future__ import annotations

from typing import Annotated, Any, Protocol, TypeVar

import msgspec
from pydantic import (
    BaseModel,
)

from batchwork_prefect.models._trusted import trusted
from batchwork_prefect.models.results import BatchResult, MessageDecoder, ResultError, ResultStatus
from batchwork_prefect.usage import Usage


class _Results(Protocol):
    """What is written of a `BatchResults` (which imports this module, so not imported)."""

    batch_ids: list[str]
    results: list[BatchResult]
    model: str | None
    replaced_usage: list[Usage]


ResultsT = TypeVar("ResultsT", bound=BaseModel)

# The persisted shape of `BatchResults`, as `model_dump_json` writes it: the same fields and
# names as the pydantic schema, so either can read what the other wrote.


_RAW_NULL = msgspec.Raw(b"null")


class _StoredError(msgspec.Struct):
    type: str
    message: str
    request_id: str | None = None
    status_code: int | None = None


class _StoredResult(msgspec.Struct):
    custom_id: str
    status: ResultStatus
    text: str | None = None
    message: msgspec.Raw = _RAW_NULL  # (msgspec takes no Raw in a union: null is checked)
    usage: Usage | None = None
    error: _StoredError | None = None
    batch_id: str | None = None
    attempts: Annotated[int, msgspec.Meta(ge=1)] = 1
    parsed: msgspec.Raw = _RAW_NULL  # a typed batch's answer; records without one have none


class _StoredResults(msgspec.Struct):
    batch_ids: list[str] = []
    results: list[_StoredResult] = []
    model: str | None = None  # records written by earlier versions have none
    replaced_usage: list[Usage] = []


class _WrittenResult(msgspec.Struct):
    custom_id: str
    status: str
    text: str | None
    message: Any
    usage: Usage | None
    error: _StoredError | None
    batch_id: str | None
    attempts: int
    parsed: Any


class _WrittenResults(msgspec.Struct):
    batch_ids: list[str]
    results: list[_WrittenResult]
    model: str | None
    replaced_usage: list[Usage]


_STORED_DECODER = msgspec.json.Decoder(_StoredResults)
_STORED_ENCODER = msgspec.json.Encoder()


class _MessageJSON:
    """The message of a loaded result: the JSON it was written as."""

    def __call__(self, raw: msgspec.Raw) -> dict[str, Any]:
        message: dict[str, Any] = msgspec.json.decode(raw)
        return message

    def raw(self, raw: msgspec.Raw) -> msgspec.Raw:
        return raw


_raw_message = _MessageJSON()


def results_json(results: _Results) -> bytes:
    """`results.model_dump_json()` as bytes, without a round trip through `str`."""
    return _STORED_ENCODER.encode(_stored(results))


def _stored(results: _Results) -> _WrittenResults:
    written = []
    for result in results.results:
        error = result.error
        decode = result._decode
        raw = getattr(decode, "raw", None)
        # the message's JSON as it was read, where its decoder can give it, undecoded
        message = (
            result._body
            if decode is None
            else decode(result._body)
            if raw is None
            else raw(result._body)
        )
        written.append(
            _WrittenResult(
                result.custom_id,
                result.status.value,
                result.text,
                message,
                result.usage,
                None
                if error is None
                else _StoredError(error.type, error.message, error.request_id, error.status_code),
                result.batch_id,
                result._attempts,
                _parsed_json(result._parsed),
            )
        )
    return _WrittenResults(
        list(results.batch_ids), written, results.model, list(results.replaced_usage)
    )


def _parsed_json(parsed: Any) -> Any:
    """What msgspec writes for a result's `parsed`: a model as its JSON, else the value."""
    if isinstance(parsed, BaseModel):  # by alias: the answer's own shape, which loads back
        return msgspec.Raw(parsed.__pydantic_serializer__.to_json(parsed, by_alias=True))
    return parsed


def load_stored(data: str | bytes | bytearray, cls: type[ResultsT]) -> ResultsT | None:
    """`BatchResults` from their persisted JSON, or None where pydantic must decide."""
    try:
        stored = _STORED_DECODER.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    results = []
    decoded = BatchResult.decoded
    for item in stored.results:
        message = item.message
        first = bytes(memoryview(message)[:1])
        if first == b"{":
            body: Any = message.copy()  # its own bytes: a view keeps the whole file alive
            decode: MessageDecoder | None = _raw_message
        elif message == _RAW_NULL:
            body, decode = None, None
        else:
            return None  # not an object: pydantic names the problem
        error = item.error
        loaded = decoded(
            item.custom_id,
            item.status,
            item.batch_id,
            body,
            decode,
            item.text,
            item.usage,
            None
            if error is None
            else trusted(
                ResultError,
                {
                    "type": error.type,
                    "message": error.message,
                    "request_id": error.request_id,
                    "status_code": error.status_code,
                },
            ),
        )
        loaded._attempts = item.attempts
        if item.parsed != _RAW_NULL:
            loaded._parsed = msgspec.json.decode(item.parsed)
        results.append(loaded)
    return cls.model_construct(
        batch_ids=stored.batch_ids,
        results=results,
        model=stored.model,
        replaced_usage=stored.replaced_usage,
    )
