"""What comes out of a batch: one result, its status and its error."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from operator import attrgetter
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    field_serializer,
)
from pydantic_core import core_schema

from batchwork_prefect.models._trusted import trusted
from batchwork_prefect.usage import Usage


class ResultStatus(StrEnum):
    """How one request of a batch ended."""

    SUCCEEDED = "succeeded"
    ERRORED = "errored"
    CANCELED = "canceled"
    EXPIRED = "expired"


class ResultError(BaseModel):
    """Why a request errored, as the provider put it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    type: str
    message: str
    request_id: str | None = None
    status_code: int | None = Field(
        default=None, description="The HTTP status the request was answered with, if known."
    )


class _ResultFields(BaseModel):
    """A result's fields as data: how a `BatchResult` is validated and serialized."""

    model_config = ConfigDict(frozen=True, title="BatchResult", defer_build=True)

    custom_id: str
    status: ResultStatus
    text: str | None = Field(default=None, description="The text blocks joined in order.")
    message: dict[str, Any] | None = Field(default=None, description="The raw provider message.")
    usage: Usage | None = None
    error: ResultError | None = None
    batch_id: str | None = None
    attempts: int = Field(default=1, ge=1, description="How many times it was submitted.")
    parsed: Any = Field(
        default=None,
        description="A typed batch's answer, validated against its output type; else None.",
    )

    @field_serializer("parsed")
    def _parsed_as_answered(self, parsed: Any) -> Any:
        """A model instance as the JSON of its answer (by alias), which validates back."""
        if isinstance(parsed, BaseModel):
            return parsed.model_dump(mode="json", by_alias=True)
        return parsed


_ALL_RESULT_FIELDS = set(_ResultFields.model_fields)

MessageDecoder = Callable[[Any], dict[str, Any] | None]
"""Turns the raw JSON a result keeps (its results line, or its message) into the message.

One that also has a `raw(body) -> msgspec.Raw` method gives the message's JSON undecoded,
which `BatchResults.model_dump_json` then writes as it is."""


class BatchResult:
    """The normalized outcome of one request, correlated by `custom_id`.

    Fields: `custom_id`, `status`, `text` (the text blocks joined in order), `message` (the
    raw provider message), `usage`, `error`, `batch_id`. Immutable. A result read from a
    provider (or loaded from its persisted JSON) has its `text` and `usage` decoded once,
    when it is read, and keeps its `message` as the raw JSON it came in, decoded into a
    dict on each access: `message` is the rare field, and 100,000 message dicts would take
    several times the JSONL's size. It validates and serializes like a pydantic model
    (`model_validate`, `model_dump`, `model_dump_json`).
    """

    __slots__ = (
        "_attempts",
        "_batch_id",
        "_body",
        "_custom_id",
        "_decode",
        "_error",
        "_parsed",
        "_status",
        "_stop",
        "_text",
        "_usage",
    )

    _custom_id: str
    _status: ResultStatus
    _text: str | None
    _usage: Usage | None
    _error: ResultError | None
    _batch_id: str | None
    _body: Any
    _decode: MessageDecoder | None
    _attempts: int
    _parsed: Any
    _stop: str | None
    """Why the answer ended, where that makes it unfit for a typed batch ("max_tokens",
    "refusal"), as its provider's parser read it; else None. Not persisted: a typed
    batch's result keeps what it meant (an `invalid_output` error)."""

    def __init__(
        self,
        *,
        custom_id: str,
        status: ResultStatus | str,
        text: str | None = None,
        message: dict[str, Any] | None = None,
        usage: Usage | dict[str, Any] | None = None,
        error: ResultError | dict[str, Any] | None = None,
        batch_id: str | None = None,
        attempts: int = 1,
        parsed: Any = None,
    ) -> None:
        fields = _ResultFields.model_validate(
            {
                "custom_id": custom_id,
                "status": status,
                "text": text,
                "message": message,
                "usage": usage,
                "error": error,
                "batch_id": batch_id,
                "attempts": attempts,
                "parsed": parsed,
            }
        )
        self._fill(fields)

    def _fill(self, fields: _ResultFields) -> None:
        self._custom_id = fields.custom_id
        self._status = fields.status
        self._text = fields.text
        self._usage = fields.usage
        self._error = fields.error
        self._batch_id = fields.batch_id
        self._body = fields.message
        self._decode = None
        self._attempts = fields.attempts
        self._parsed = fields.parsed
        self._stop = None

    @classmethod
    def of(
        cls,
        custom_id: str,
        status: ResultStatus,
        batch_id: str | None,
        *,
        error: ResultError | None = None,
        text: str | None = None,
        message: dict[str, Any] | None = None,
        usage: Usage | None = None,
    ) -> BatchResult:
        """A result from values a provider's parser has already checked (no validation)."""
        return cls.decoded(custom_id, status, batch_id, message, None, text, usage, error)

    @classmethod
    def decoded(
        cls,
        custom_id: str,
        status: ResultStatus,
        batch_id: str | None,
        body: Any,
        decode: MessageDecoder | None,
        text: str | None = None,
        usage: Usage | None = None,
        error: ResultError | None = None,
        stop: str | None = None,
    ) -> BatchResult:
        """A result from values a parser has already checked (no validation).

        `body` is the raw JSON the result was read from (a provider's results line, or a
        persisted message) and `decode` turns it into the message on access; with `decode`
        None, `body` is the message itself (a dict, or None).
        """
        result = cls.__new__(cls)
        result._custom_id = custom_id
        result._status = status
        result._batch_id = batch_id
        result._text = text
        result._usage = usage
        result._error = error
        result._body = body
        result._decode = decode
        result._attempts = 1
        result._parsed = None
        result._stop = stop
        return result

    def attempted(self, attempts: int) -> BatchResult:
        """This result, counted as the answer to the `attempts`-th submission of its request."""
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        result = self._copy()
        result._attempts = attempts
        return result

    def _copy(self) -> BatchResult:
        # One assignment per slot, not a getattr/setattr loop over __slots__: a typed read
        # copies every result, and the loop cost ~1.5 µs of each (tests check every slot).
        result = BatchResult.__new__(BatchResult)
        result._attempts = self._attempts
        result._batch_id = self._batch_id
        result._body = self._body
        result._custom_id = self._custom_id
        result._decode = self._decode
        result._error = self._error
        result._parsed = self._parsed
        result._status = self._status
        result._stop = self._stop
        result._text = self._text
        result._usage = self._usage
        return result

    def with_parsed(self, parsed: Any) -> BatchResult:
        """This result with `parsed` as its validated answer (see `batchwork_prefect.outputs`)."""
        result = self._copy()
        result._parsed = parsed
        return result

    def with_error(self, error: ResultError) -> BatchResult:
        """This result as `errored` with `error`, keeping its text, message and usage: how a
        typed batch's answer that does not validate reads (`invalid_output`)."""
        result = self._copy()
        result._status = ResultStatus.ERRORED
        result._error = error
        result._parsed = None
        return result

    @property
    def custom_id(self) -> str:
        return self._custom_id

    @property
    def status(self) -> ResultStatus:
        return self._status

    @property
    def text(self) -> str | None:
        return self._text

    @property
    def message(self) -> dict[str, Any] | None:
        decode = self._decode
        if decode is None:
            body: dict[str, Any] | None = self._body
            return body
        return decode(self._body)

    @property
    def usage(self) -> Usage | None:
        return self._usage

    @property
    def error(self) -> ResultError | None:
        return self._error

    @property
    def batch_id(self) -> str | None:
        return self._batch_id

    @property
    def attempts(self) -> int:
        """How many times its request was submitted: 1, or more after retry rounds."""
        return self._attempts

    @property
    def parsed(self) -> Any:
        """A typed batch's answer, validated against its output type: an instance of the
        pydantic model given as `output`, or the JSON value for a JSON-schema `output` (or
        as loaded without the model). None when the batch is not typed or the result did
        not succeed; a typed batch's answer that does not validate is `errored` with an
        `invalid_output` error instead."""
        return self._parsed

    @property
    def raw_line(self) -> bytes | None:
        """The provider's results line this result was read from; None if built from values.

        Not kept through serialization (`model_dump_json`, pickling).
        """
        body = self._body
        return body if type(body) is bytes else None

    def _fields(self) -> _ResultFields:
        values = {
            "custom_id": self._custom_id,
            "status": self._status,
            "text": self._text,
            "message": self.message,
            "usage": self._usage,
            "error": self._error,
            "batch_id": self._batch_id,
            "attempts": self._attempts,
            "parsed": self._parsed,
        }
        return trusted(_ResultFields, values, _ALL_RESULT_FIELDS)

    def model_dump(self, **options: Any) -> dict[str, Any]:
        """The fields as a dict; takes pydantic's `model_dump` options (`mode`, `include`, ...)."""
        return self._fields().model_dump(**options)

    def model_dump_json(self, **options: Any) -> str:
        """The fields as a JSON object; takes pydantic's `model_dump_json` options."""
        return self._fields().model_dump_json(**options)

    @classmethod
    def model_validate(cls, obj: Any) -> BatchResult:
        """A result from a `BatchResult` or a mapping of its fields; raises `ValidationError`."""
        if isinstance(obj, BatchResult):
            return obj
        return cls._from_fields(_ResultFields.model_validate(obj))

    @classmethod
    def model_validate_json(cls, data: str | bytes) -> BatchResult:
        """A result from the JSON `model_dump_json` writes; raises `ValidationError`."""
        return cls._from_fields(_ResultFields.model_validate_json(data))

    @classmethod
    def _from_fields(cls, fields: _ResultFields) -> BatchResult:
        result = cls.__new__(cls)
        result._fill(fields)
        return result

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        fields = handler.generate_schema(_ResultFields)
        from_fields = core_schema.no_info_after_validator_function(cls._from_fields, fields)
        return core_schema.json_or_python_schema(
            json_schema=from_fields,
            python_schema=core_schema.union_schema(
                [core_schema.is_instance_schema(cls), from_fields]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(
                cls._fields, return_schema=fields
            ),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BatchResult):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # like a pydantic model holding a dict

    def __repr__(self) -> str:
        text = self._text
        shown = text if text is None or len(text) <= 60 else text[:57] + "..."
        return (
            f"BatchResult(custom_id={self._custom_id!r}, status={self._status.value!r}, "
            f"text={shown!r}, usage={self._usage!r}, error={self._error!r}, "
            f"batch_id={self._batch_id!r}, attempts={self._attempts}"
            + ("" if self._parsed is None else f", parsed={self._parsed!r}")
            + ")"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (BatchResult.model_validate_json, (self.model_dump_json(),))


# The plain fields read through C getters (`operator.attrgetter`), not Python functions: a
# read touches several per result, and a Python property call costs about half again as
# much. Still read-only (a property without a setter); mypy reads the typed ones above.
for _name in ("custom_id", "status", "text", "usage", "error", "batch_id", "attempts", "parsed"):
    _typed = vars(BatchResult)[_name]
    setattr(BatchResult, _name, property(attrgetter(f"_{_name}"), doc=_typed.__doc__ or ""))
del _name, _typed
