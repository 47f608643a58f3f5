"""Provider-neutral pydantic types: what goes into a batch and what comes out of it."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self, TypeVar

import msgspec
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PrivateAttr,
    TypeAdapter,
    field_serializer,
    model_validator,
)
from pydantic_core import core_schema

from batchwork_prefect.pricing import BatchCost, Unpriced, price_usages

ModelT = TypeVar("ModelT", bound=BaseModel)

JOB_ID_SEPARATOR = ","
"""Joins the provider batch ids of a job split into parts into one `BatchJob.id`."""

CUSTOM_ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")
"""What a `custom_id` must look like (Anthropic's rule; the strictest of the providers).

Use it with `fullmatch`: with `match` and a `$` anchor, a trailing newline would pass."""


TYPED_FIELDS = (
    "system",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tools",
    "tool_choice",
)
"""The Messages API fields `BatchRequest` types, in the fixed order they are encoded in
(the encoded bytes feed the content digest); `defaults` may give them too."""


class BatchRequest(BaseModel):
    """One request of a batch: a prompt (or a message list) and its Messages API options.

    Exactly one of `prompt` and `messages` is set. `params` passes any other Messages API
    field through untouched (`thinking`, `metadata`, ...). A `custom_id` left out becomes
    `request-<index>` when the batch is built.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    custom_id: str | None = Field(
        default=None,
        # pydantic searches for a pattern, so it needs anchors; its Rust engine's `$` matches
        # only at the very end (a trailing newline is refused: tests/models/test_models.py).
        pattern=f"^{CUSTOM_ID_PATTERN.pattern}$",
        description="Correlates the result; unique; 1-64 letters, digits, '_' or '-'.",
    )
    prompt: str | None = Field(
        default=None, description="A single user message; give this or messages."
    )
    messages: list[dict[str, Any]] | None = Field(
        default=None,
        min_length=1,
        description="A full message list ({role, content} objects); give this or prompt.",
    )
    system: str | list[dict[str, Any]] | None = Field(
        default=None, description="The system prompt: text, or a list of content blocks."
    )
    max_tokens: int | None = Field(
        default=None, ge=1, description="The most tokens the answer may have (default 1024)."
    )
    temperature: float | None = Field(
        default=None, ge=0, description="Sampling temperature; lower is more deterministic."
    )
    top_p: float | None = Field(
        default=None, ge=0, le=1, description="Nucleus sampling: the probability mass kept."
    )
    top_k: int | None = Field(
        default=None, ge=0, description="Sample only from the k most likely tokens."
    )
    stop_sequences: list[str] | None = Field(
        default=None, description="Texts that end the answer when generated."
    )
    tools: list[dict[str, Any]] | None = Field(
        default=None, description="Tool definitions the model may call."
    )
    tool_choice: dict[str, Any] | None = Field(
        default=None, description="How the model picks a tool, e.g. {'type': 'auto'}."
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Any other Messages API field, passed as is (thinking, metadata, ...).",
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("set exactly one of 'prompt' and 'messages'")
        return self


class BatchStatus(StrEnum):
    """Where a batch is, in the same words for every provider."""

    VALIDATING = "validating"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True once the batch will not change any more."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.EXPIRED, BatchStatus.CANCELLED}
)


class RequestCounts(BaseModel):
    """How many of a batch's requests are in each state."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    total: int = Field(default=0, ge=0)
    processing: int = Field(default=0, ge=0)
    succeeded: int = Field(default=0, ge=0)
    errored: int = Field(default=0, ge=0)
    canceled: int = Field(default=0, ge=0)
    expired: int = Field(default=0, ge=0)

    @property
    def finished(self) -> int:
        """Requests no longer processing."""
        return self.succeeded + self.errored + self.canceled + self.expired

    def __add__(self, other: RequestCounts) -> RequestCounts:
        return RequestCounts(
            total=self.total + other.total,
            processing=self.processing + other.processing,
            succeeded=self.succeeded + other.succeeded,
            errored=self.errored + other.errored,
            canceled=self.canceled + other.canceled,
            expired=self.expired + other.expired,
        )


class BatchProblem(BaseModel):
    """One reason a provider gave for failing a whole batch (OpenAI: its input file's errors)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    code: str
    message: str
    line: int | None = Field(default=None, description="The input line it names, from 1.")
    param: str | None = Field(default=None, description="The request field it names.")


class BatchSnapshot(BaseModel):
    """What a provider said about a batch at one moment.

    For a job spread over several provider batches, `id` joins their ids with commas and
    `parts` holds each batch's own snapshot.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    id: str
    provider: str
    status: BatchStatus
    request_counts: RequestCounts
    provider_status: str = Field(description="The status word as the provider sent it.")
    created_at: datetime | None = None
    ended_at: datetime | None = None
    expires_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    results_url: str | None = None
    retry_after: float | None = Field(default=None, description="The provider's poll hint, s.")
    parts: tuple[BatchSnapshot, ...] = ()
    digest: str | None = Field(
        default=None,
        description="The content digest recorded with the batch when it was created, where "
        "the provider keeps one (OpenAI: in its metadata); finds a lost create exactly.",
    )
    errors: tuple[BatchProblem, ...] = Field(
        default=(), description="Why the provider failed the whole batch, if it did."
    )


class BatchHandle(BaseModel):
    """What identifies one submitted part later: its provider batch and what went into it.

    `digest` is always the whole batch's; `part_digest` the part's own.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    provider: str
    model: str
    digest: str = Field(description="sha256 of the whole batch's encoded requests.")
    batch_id: str = Field(description="The provider batch of this part.")
    custom_ids: list[str] = Field(description="The custom_ids sent in this part, in order.")
    submitted_at: datetime
    part: int = Field(default=0, ge=0, description="Which part of the batch, from 0.")
    parts: int = Field(default=1, ge=1, description="How many parts the batch has.")
    part_digest: str | None = Field(
        default=None, description="sha256 of this part's encoded requests (None: the digest)."
    )
    attempt: int = Field(
        default=1, ge=1, description="Which submission of these requests: 1, or a retry round."
    )

    @model_validator(mode="before")
    @classmethod
    def _one_batch(cls, data: Any) -> Any:
        # handles written by 0.1 held lists: `batch_ids: [id]`, `custom_ids: [[...]]`
        if isinstance(data, dict) and "batch_ids" in data and "batch_id" not in data:
            data = dict(data)
            batch_ids, custom_ids = data.pop("batch_ids"), data.get("custom_ids")
            if not isinstance(batch_ids, list) or len(batch_ids) != 1:
                raise ValueError(
                    "a handle of several provider batches, written by an earlier version, "
                    "cannot be resumed: rerun under a new idempotency key (or a new run)"
                )
            data["batch_id"] = batch_ids[0]
            if isinstance(custom_ids, list) and len(custom_ids) == 1:
                data["custom_ids"] = custom_ids[0]
        return data


class ResultStatus(StrEnum):
    """How one request of a batch ended."""

    SUCCEEDED = "succeeded"
    ERRORED = "errored"
    CANCELED = "canceled"
    EXPIRED = "expired"


_Count = Annotated[int, msgspec.Meta(ge=0)]

USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


class Usage(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Token usage of one result, or of many added up.

    A compact C-level struct, decoded straight from a results line: 100,000 of them cost
    a few megabytes. It validates and serializes like a pydantic model (`model_dump`,
    `model_dump_json`, `model_validate`) and works as a field of pydantic models.
    """

    input_tokens: _Count = 0
    output_tokens: _Count = 0
    cache_creation_input_tokens: _Count = 0
    cache_read_input_tokens: _Count = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=(
                self.cache_creation_input_tokens + other.cache_creation_input_tokens
            ),
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    def model_dump(self, **options: Any) -> dict[str, int]:
        """The four counts as a dict (pydantic's options are accepted and change nothing)."""
        return {name: getattr(self, name) for name in USAGE_FIELDS}

    def model_dump_json(self, **options: Any) -> str:
        """The four counts as a JSON object."""
        return msgspec.json.encode(self).decode()

    @classmethod
    def model_validate(cls, obj: Any) -> Usage:
        """A `Usage` from a `Usage` or a mapping of its counts; raises `ValidationError`."""
        return _usage_adapter().validate_python(obj)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        counts = core_schema.typed_dict_schema(
            {
                name: core_schema.typed_dict_field(core_schema.int_schema(ge=0), required=False)
                for name in USAGE_FIELDS
            }
        )
        from_counts = core_schema.no_info_after_validator_function(lambda d: cls(**d), counts)
        return core_schema.json_or_python_schema(
            json_schema=from_counts,
            python_schema=core_schema.union_schema(
                [core_schema.is_instance_schema(cls), from_counts]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(
                cls.model_dump, return_schema=counts
            ),
        )


@functools.cache
def _usage_adapter() -> TypeAdapter[Usage]:
    return TypeAdapter(Usage)


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
        result = BatchResult.__new__(BatchResult)
        for name in BatchResult.__slots__:
            setattr(result, name, getattr(self, name))
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


class BatchResults(BaseModel):
    """All results of a job, with the provider batch ids they came from.

    `results["fr"]` looks a result up by `custom_id`; `len(results)`, `"fr" in results`,
    `results.values()` and `results.results` work as expected. `model` names the model
    ("provider/model") the results came from, which `cost` prices. It round-trips through
    `model_dump_json()` / `model_validate_json()`, which read and write 100,000 results at
    about the speed of reading them from the provider. (Iterating the model itself yields
    its fields, as for any pydantic model, which Prefect relies on: use `values()`.)
    """

    model_config = ConfigDict(defer_build=True)

    batch_ids: list[str] = Field(default_factory=list)
    results: list[BatchResult] = Field(default_factory=list)
    model: str | None = Field(
        default=None,
        description="The model as 'provider/model'; None when not known (older records).",
    )
    replaced_usage: list[Usage] = Field(
        default_factory=list,
        description="The usage of answers a retry round replaced (an invalid_output answer "
        "was billed): counted in `usage` and `cost`.",
    )
    _index: dict[str, BatchResult] | None = PrivateAttr(default=None)
    _priced: tuple[tuple[str | None, int, int, int], BatchCost | Unpriced] | None = PrivateAttr(
        default=None
    )

    def _by_id(self) -> dict[str, BatchResult]:
        if self._index is None or len(self._index) != len(self.results):
            self._index = {result.custom_id: result for result in self.results}
        return self._index

    def __getitem__(self, custom_id: str) -> BatchResult:
        try:
            return self._by_id()[custom_id]
        except KeyError:
            raise KeyError(f"no result with custom_id {custom_id!r}") from None

    def __contains__(self, custom_id: object) -> bool:
        return custom_id in self._by_id()

    def __len__(self) -> int:
        return len(self.results)

    def get(self, custom_id: str) -> BatchResult | None:
        """The result for `custom_id`, or None."""
        return self._by_id().get(custom_id)

    def __eq__(self, other: object) -> bool:
        # pydantic's == also compares private attributes: the lookup index is a cache
        if not isinstance(other, BatchResults):
            return NotImplemented
        return (
            self.batch_ids == other.batch_ids
            and self.model == other.model
            and self.results == other.results
            and self.replaced_usage == other.replaced_usage
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, like any pydantic model

    @classmethod
    def concat(cls, parts: Sequence[BatchResults]) -> BatchResults:
        """One collection of the parts' results and batch ids, in the parts' order.

        It keeps the parts' `model` when they all name the same one; else `model` is None
        (add up the parts' `cost` instead)."""
        models = {part.model for part in parts}
        return cls.model_construct(
            batch_ids=[batch_id for part in parts for batch_id in part.batch_ids],
            results=[result for part in parts for result in part.results],
            model=models.pop() if len(models) == 1 else None,
            replaced_usage=[usage for part in parts for usage in part.replaced_usage],
        )

    def merge(self, later: BatchResults) -> BatchResults:
        """These results with each of `later`'s in its request's place, counted as one more
        attempt (a retry's answers over the first's); `later`'s other results come last.
        The batch ids of both, in order; the `model` both name (else None). The usage of a
        replaced answer (an `invalid_output` one was billed) is kept in `replaced_usage`,
        so `usage` and `cost` of the merge are those of every round."""
        placed = {result.custom_id: result for result in later.results}
        merged = []
        replaced = [*self.replaced_usage, *later.replaced_usage]
        for result in self.results:
            again = placed.pop(result.custom_id, None)
            if again is not None and result.usage is not None:
                replaced.append(result.usage)
            merged.append(result if again is None else again.attempted(result.attempts + 1))
        merged.extend(placed.values())
        batch_ids = list(self.batch_ids)
        batch_ids.extend(one for one in later.batch_ids if one not in batch_ids)
        model = self.model if self.model == later.model else None
        return BatchResults.model_construct(
            batch_ids=batch_ids, results=merged, model=model, replaced_usage=replaced
        )

    def values(self) -> list[BatchResult]:
        """Every result, in the order they were read."""
        return list(self.results)

    def by_status(self, status: ResultStatus | str) -> list[BatchResult]:
        """The results with this status."""
        wanted = ResultStatus(status)
        return [result for result in self.results if result.status is wanted]

    @property
    def counts(self) -> dict[ResultStatus, int]:
        """How many results have each status (every status present, zero or not)."""
        counted = Counter(result.status for result in self.results)
        return {status: counted.get(status, 0) for status in ResultStatus}

    @property
    def usage(self) -> Usage:
        """Token usage added up over every result (and every answer a retry replaced)."""
        sums = dict.fromkeys(USAGE_FIELDS, 0)
        for usage in self._usages():
            if usage is not None:
                for name in USAGE_FIELDS:
                    sums[name] += getattr(usage, name)
        return Usage(**sums)

    @property
    def cost(self) -> BatchCost | None:
        """What the results cost at Batch API prices (genai-prices), or None when they
        cannot be priced: `unpriced_reason` says why. Results without usage cost nothing."""
        priced = self._pricing()
        return priced if isinstance(priced, BatchCost) else None

    @property
    def unpriced_reason(self) -> str | None:
        """Why `cost` is None (the model unknown to the price data, ...); else None."""
        priced = self._pricing()
        return priced.reason if isinstance(priced, Unpriced) else None

    def _pricing(self) -> BatchCost | Unpriced:
        key = (self.model, id(self.results), len(self.results), len(self.replaced_usage))
        if self._priced is None or self._priced[0] != key:
            usages = (usage for usage in self._usages() if usage is not None)
            self._priced = (key, price_usages(self.model, usages))
        return self._priced[1]

    def _usages(self) -> Iterator[Usage | None]:
        for result in self.results:
            yield result.usage
        yield from self.replaced_usage

    def texts(self) -> dict[str, str | None]:
        """`{custom_id: text}` for every result (None where there is no text)."""
        return {result.custom_id: result.text for result in self.results}

    def model_dump_json(self, **options: Any) -> str:
        """The results as JSON; with pydantic's options (`indent`, ...) pydantic writes it."""
        if options:
            return super().model_dump_json(**options)
        return results_json(self).decode()

    @classmethod
    def model_validate_json(
        cls, json_data: str | bytes | bytearray, **options: Any
    ) -> BatchResults:
        """Results from the JSON `model_dump_json` writes; raises pydantic's `ValidationError`.

        Read with typed decoding into structs: each message stays the raw JSON it was
        written as, decoded on access. Anything that decoding refuses goes to pydantic,
        which either reads it or raises the error naming what is wrong.
        """
        if not options:
            loaded = _load_stored(json_data)
            if loaded is not None:
                return loaded
        return super().model_validate_json(json_data, **options)


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


def results_json(results: BatchResults) -> bytes:
    """`results.model_dump_json()` as bytes, without a round trip through `str`."""
    return _STORED_ENCODER.encode(_stored(results))


def _stored(results: BatchResults) -> _WrittenResults:
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


def _load_stored(data: str | bytes | bytearray) -> BatchResults | None:
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
    return BatchResults.model_construct(
        batch_ids=stored.batch_ids,
        results=results,
        model=stored.model,
        replaced_usage=stored.replaced_usage,
    )


def trusted(
    model: type[ModelT], values: dict[str, Any], fields_set: set[str] | None = None
) -> ModelT:
    """An instance built from values already checked by a parser, skipping validation.

    The hot path of result reading and request building: like `model_construct`, but
    `values` must name every field, so there are no defaults to resolve. `fields_set` are
    the fields given explicitly (default: all).
    """
    instance = model.__new__(model)
    set_attribute = object.__setattr__
    set_attribute(instance, "__dict__", values)
    set_attribute(
        instance, "__pydantic_fields_set__", set(values) if fields_set is None else fields_set
    )
    set_attribute(instance, "__pydantic_extra__", None)
    set_attribute(instance, "__pydantic_private__", None)
    return instance


def trusted_given(model: type[ModelT], given: dict[str, Any]) -> ModelT:
    """`trusted` for values that name only the fields given: those count as set, and every
    other field takes its default (a required one missing raises `TypeError`)."""
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in given:
            values[name] = given[name]
        elif field.is_required():
            raise TypeError(f"{model.__name__}.{name} is required")
        else:
            values[name] = field.get_default(call_default_factory=True)
    return trusted(model, values, set(given))
