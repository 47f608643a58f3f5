"""Anthropic's Message Batches API: wire format, status mapping and result parsing."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import msgspec
import orjson
from pydantic import SecretStr

from batchwork_prefect._http.body import Body
from batchwork_prefect._http.resume import resumed_lines
from batchwork_prefect._http.retry import parse_retry_after
from batchwork_prefect._http.transport import Retry, Transport, check_headers, resolve_api_key
from batchwork_prefect.errors import (
    ProtocolError,
    ResultsNotReadyError,
    UnknownStatusError,
    UnsafeURLError,
)
from batchwork_prefect.models import (
    TYPED_FIELDS,
    BatchRequest,
    BatchResult,
    BatchSnapshot,
    BatchStatus,
    RequestCounts,
    ResultError,
    ResultStatus,
    Usage,
    trusted,
    trusted_given,
)
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers._http_provider import HttpProvider, require_ended
from batchwork_prefect.providers._schemas import anthropic_schema
from batchwork_prefect.providers.base import BatchLimits

NAME = "anthropic"
DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
BATCHES_PATH = "/v1/messages/batches"
LIMITS = BatchLimits(max_requests=100_000, max_bytes=256_000_000)
"""Anthropic's limits per batch: 100,000 requests or 256 MB (decimal, for headroom)."""

BATCH_ID_PATTERN = re.compile(r"msgbatch_[A-Za-z0-9_-]{1,200}")
"""A batch id; used with `fullmatch` (`$` would let a trailing newline into the URL path)."""
DEFAULT_MAX_TOKENS = 1024
_RESERVED_HEADERS = {
    "x-api-key": "pass the key as api_key=... (or set ANTHROPIC_API_KEY)",
    "authorization": "pass the key as api_key=... (or set ANTHROPIC_API_KEY)",
    "anthropic-version": (
        f"this client speaks API version {API_VERSION} only; beta features go in 'anthropic-beta'"
    ),
}
"""Caller headers that would override the credentials or the API version (lowercase)."""
_BODY_PREFIX = b'{"requests":['
_BODY_SUFFIX = b"]}"


def map_status(
    processing_status: str, counts: RequestCounts, *, cancel_initiated: bool
) -> BatchStatus:
    """Anthropic's `processing_status` as a `BatchStatus`; unknown words raise.

    `ended` becomes `cancelled` when a cancel was initiated, `expired` when every request
    expired, and `completed` otherwise.
    """
    if processing_status == "in_progress":
        return BatchStatus.IN_PROGRESS
    if processing_status == "canceling":
        return BatchStatus.CANCELLING
    if processing_status == "ended":
        if cancel_initiated:
            return BatchStatus.CANCELLED
        if counts.total > 0 and counts.expired == counts.total:
            return BatchStatus.EXPIRED
        return BatchStatus.COMPLETED
    raise UnknownStatusError(NAME, processing_status)


def check_batch_id(batch_id: str) -> str:
    """`batch_id` if it is a well-formed Anthropic batch id, safe to put in a URL path."""
    if not isinstance(batch_id, str) or not BATCH_ID_PATTERN.fullmatch(batch_id):
        raise UnsafeURLError(
            f"{batch_id!r} is not an Anthropic batch id (expected msgbatch_ + letters/digits)"
        )
    return batch_id


def output_fields(output: OutputType, model: str = "") -> dict[str, Any]:
    """The request fields that ask `model` for answers of `output`: `output_config.format`.

    Raises `ValueError` for a schema Anthropic cannot carry faithfully."""
    schema = anthropic_schema(output.schema)
    return {"output_config": {"format": {"type": "json_schema", "schema": schema}}}


def request_params(
    model: str,
    request: BatchRequest,
    defaults: Mapping[str, Any],
    output: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Messages API body for one request: defaults, then `params`, then typed fields,
    then `output` (a typed batch's `output_fields`, merged into any `output_config`).

    Raises `ValueError` for what a batch cannot carry (`stream`, a conflicting `model`, an
    `output_config.format` of its own in a typed batch).
    """
    params: dict[str, Any] = {"model": model, **defaults, **request.params}
    fields, given = request.__dict__, request.model_fields_set
    for field in TYPED_FIELDS:  # a fixed order: the encoded bytes feed the content digest
        if field in given and fields[field] is not None:
            params[field] = fields[field]
    if request.prompt is not None:
        params["messages"] = [{"role": "user", "content": request.prompt}]
    else:
        params["messages"] = request.messages
    params.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    if params["model"] != model:
        raise ValueError(f"model {params['model']!r} conflicts with the batch model {model!r}")
    if params.get("stream"):
        raise ValueError("stream=True is not supported in message batches")
    if output is not None:
        config = params.get("output_config")
        if config is not None and not isinstance(config, Mapping):
            raise ValueError("output_config: expected an object")
        if config and config.get("format") is not None:
            raise ValueError(
                "output_config.format: the batch's output= sets it, and neither a request nor "
                "defaults may set their own; drop it, or send the requests of each output type "
                "as their own batch"
            )
        params["output_config"] = {**(config or {}), **output["output_config"]}
    return params


def encode_request(custom_id: str, params: Mapping[str, Any]) -> bytes:
    """One `{"custom_id", "params"}` entry of a create body.

    Copied to its exact size: orjson's output keeps the capacity of its working buffer
    (4 KiB and up), which for 100,000 kept requests is hundreds of megabytes.
    """
    return bytes(memoryview(orjson.dumps({"custom_id": custom_id, "params": params})))


def snapshot_from_body(body: Any, *, retry_after: float | None = None) -> BatchSnapshot:
    """A `MessageBatch` object as a `BatchSnapshot`; a malformed object raises `ProtocolError`."""
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise ProtocolError("Anthropic returned a batch object without an id")
    status = body.get("processing_status")
    raw_counts = body.get("request_counts")
    if not isinstance(status, str) or not isinstance(raw_counts, dict):
        raise ProtocolError(f"Anthropic batch {body['id']} lacks processing_status/request_counts")
    counts = _counts(raw_counts, body["id"])
    results_url = body.get("results_url")
    # Every value is checked here, so no pydantic validator is built for it (a one-shot
    # script would pay for building it, and for loading pydantic's plugins, at first use).
    return trusted_given(
        BatchSnapshot,
        {
            "id": body["id"],
            "provider": NAME,
            "status": map_status(
                status, counts, cancel_initiated=bool(body.get("cancel_initiated_at"))
            ),
            "request_counts": counts,
            "provider_status": status,
            "created_at": _timestamp(body.get("created_at")),
            "ended_at": _timestamp(body.get("ended_at")),
            "expires_at": _timestamp(body.get("expires_at")),
            "cancel_initiated_at": _timestamp(body.get("cancel_initiated_at")),
            "results_url": results_url if isinstance(results_url, str) else None,
            "retry_after": None if retry_after is None else float(retry_after),
        },
    )


def parse_result_line(line: bytes, batch_id: str | None = None) -> BatchResult | None:
    """One results line as a `BatchResult`, or None if it is not a well-formed result.

    The line is decoded once, with typed decoding that checks all of it: an unknown result
    type, a missing id, a block without a type, a text block without text, a count that is
    not a non-negative integer are all refused. The result keeps `line` for its `message`,
    decoded from it on access.
    """
    try:
        entry: _Line | None = _LINE.decode(line)
    except msgspec.ValidationError:
        entry = _lenient(line)  # null usage counts, read as 0 as the API means them
    except msgspec.DecodeError:
        return None
    if entry is None:
        return None
    outcome = entry.result
    if type(outcome) is _Succeeded:
        message = outcome.message
        content = message.content
        if len(content) == 1 and content[0].type == "text":
            text = content[0].text  # the common shape: one text block
        else:
            texts = [block.text for block in content if block.type == "text"]
            text = None if None in texts else "".join(texts)  # type: ignore[arg-type]
        if text is None:
            return None  # a text block without text
        return BatchResult.decoded(
            entry.custom_id,
            _SUCCEEDED,
            batch_id,
            line,
            message_of_line,
            text,
            message.usage or _NO_USAGE,
            stop=message.stop_reason if message.stop_reason in _UNFINISHED else None,
        )
    # The other kinds keep their line too, so a repeated one can be shown (bad_lines).
    if type(outcome) is _Errored:
        inner = outcome.error.error
        request_id = outcome.error.request_id
        error = trusted(
            ResultError,
            {
                "type": inner.type,
                "message": inner.message,
                "request_id": request_id if isinstance(request_id, str) else None,
                "status_code": None,  # a results line carries no HTTP status
            },
        )
        return BatchResult.decoded(
            entry.custom_id, _ERRORED, batch_id, line, _no_message, error=error
        )
    status = _CANCELED if type(outcome) is _Canceled else _EXPIRED
    return BatchResult.decoded(entry.custom_id, status, batch_id, line, _no_message)


class _MessageOfLine:
    """The message of a succeeded results line that `parse_result_line` accepted."""

    def __call__(self, line: bytes) -> dict[str, Any]:
        message: dict[str, Any] = orjson.loads(line)["result"]["message"]
        return message

    def raw(self, line: bytes) -> msgspec.Raw:
        """The message's JSON, undecoded: how persisting results writes it."""
        return _RAW_MESSAGE.decode(line).result.message


message_of_line = _MessageOfLine()


def _no_message(line: bytes) -> None:
    """The message of a result that is not a success: it has none."""
    return None


# The results line as typed structs, decoded and checked in C. Fields not named here are
# skipped unread (a message's other fields stay in the line, for `message`).

_Count = Annotated[int, msgspec.Meta(ge=0)]


class _Block(msgspec.Struct, gc=False):
    type: str
    text: str | None = None


class _Message(msgspec.Struct, gc=False):
    content: list[_Block]
    usage: Usage | None = None
    stop_reason: str | None = None


class _Succeeded(msgspec.Struct, tag="succeeded", tag_field="type", gc=False):
    message: _Message


class _InnerError(msgspec.Struct, gc=False):
    type: str
    message: str


class _ErrorEnvelope(msgspec.Struct, gc=False):
    error: _InnerError
    request_id: Any = None


class _Errored(msgspec.Struct, tag="errored", tag_field="type", gc=False):
    error: _ErrorEnvelope


class _Canceled(msgspec.Struct, tag="canceled", tag_field="type", gc=False):
    pass


class _Expired(msgspec.Struct, tag="expired", tag_field="type", gc=False):
    pass


class _Line(msgspec.Struct, gc=False):
    custom_id: Annotated[str, msgspec.Meta(min_length=1)]
    result: _Succeeded | _Errored | _Canceled | _Expired


class _NullableUsage(msgspec.Struct):
    input_tokens: _Count | None = None
    output_tokens: _Count | None = None
    cache_creation_input_tokens: _Count | None = None
    cache_read_input_tokens: _Count | None = None


class _LenientMessage(msgspec.Struct):
    content: list[_Block]
    usage: _NullableUsage | None = None
    stop_reason: str | None = None


class _LenientSucceeded(msgspec.Struct, tag="succeeded", tag_field="type"):
    message: _LenientMessage


class _LenientLine(msgspec.Struct):
    custom_id: Annotated[str, msgspec.Meta(min_length=1)]
    result: _LenientSucceeded


class _RawMessageResult(msgspec.Struct, gc=False):
    message: msgspec.Raw


class _RawMessageLine(msgspec.Struct, gc=False):
    result: _RawMessageResult


_LINE = msgspec.json.Decoder(_Line)
_RAW_MESSAGE = msgspec.json.Decoder(_RawMessageLine)
_LENIENT_LINE = msgspec.json.Decoder(_LenientLine)
_NO_USAGE = Usage()


def _lenient(line: bytes) -> _Line | None:
    """A succeeded line whose usage has null counts, with the nulls as 0; else None."""
    try:
        entry = _LENIENT_LINE.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    message = entry.result.message
    counts = message.usage or _NullableUsage()
    usage = Usage(
        input_tokens=counts.input_tokens or 0,
        output_tokens=counts.output_tokens or 0,
        cache_creation_input_tokens=counts.cache_creation_input_tokens or 0,
        cache_read_input_tokens=counts.cache_read_input_tokens or 0,
    )
    return _Line(entry.custom_id, _Succeeded(_Message(message.content, usage, message.stop_reason)))


_UNFINISHED = frozenset({"max_tokens", "refusal", "model_context_window_exceeded"})
"""Stop reasons of an answer that is not a whole one: a typed batch cannot parse it."""
_SUCCEEDED = ResultStatus.SUCCEEDED
_ERRORED = ResultStatus.ERRORED
_CANCELED = ResultStatus.CANCELED
_EXPIRED = ResultStatus.EXPIRED


def _counts(raw: dict[str, Any], batch_id: str) -> RequestCounts:
    values = {}
    for name in ("processing", "succeeded", "errored", "canceled", "expired"):
        value = raw.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ProtocolError(f"Anthropic batch {batch_id} has a bad request_counts.{name}")
        values[name] = value
    values["total"] = sum(values.values())
    return trusted(RequestCounts, values)


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ProtocolError(f"Anthropic sent an unreadable timestamp {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class AnthropicFormat:
    """Anthropic's wire format: building and encoding requests, no network."""

    name = NAME
    output_fields = staticmethod(output_fields)
    request_params = staticmethod(request_params)
    encode_request = staticmethod(encode_request)
    check_batch_id = staticmethod(check_batch_id)

    def __init__(self, limits: BatchLimits = LIMITS) -> None:
        self.limits = limits


class AnthropicProvider(HttpProvider, AnthropicFormat):
    """Anthropic's Message Batches API over the shared transport."""

    records_digest = False  # a batch carries no client-set tag
    label = "Anthropic"

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 4,
        limits: BatchLimits = LIMITS,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._api_key = resolve_api_key(api_key, "ANTHROPIC_API_KEY", self.label)
        super().__init__(limits)
        self._sleep = sleep
        self._transport = Transport(
            provider=NAME,
            base_url=base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL,
            auth_headers=self._auth_headers,
            headers={
                **check_headers(headers, reserved=_RESERVED_HEADERS),
                "anthropic-version": API_VERSION,
            },
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            sleep=sleep,
        )

    def create(self, encoded: Sequence[bytes], *, digest: str) -> BatchSnapshot:
        """Submit one batch. A lost answer raises `SubmissionOutcomeUnknown`, never a resend."""
        body = Body(encoded, prefix=_BODY_PREFIX, separator=b",", suffix=_BODY_SUFFIX)
        return self._post_create(
            BATCHES_PATH,
            body,
            request_count=len(encoded),
            digest=digest,
            snapshot=snapshot_from_body,
        )

    def retrieve(self, batch_id: str) -> BatchSnapshot:
        """GET the batch."""
        url = self._transport.url(f"{BATCHES_PATH}/{check_batch_id(batch_id)}")
        response = self._transport.request("GET", url, retry=Retry.IDEMPOTENT)
        return snapshot_from_body(
            self._json(response, batch_id), retry_after=parse_retry_after(response.headers)
        )

    def cancel(self, batch_id: str) -> BatchSnapshot:
        """POST a cancel for the batch."""
        url = self._transport.url(f"{BATCHES_PATH}/{check_batch_id(batch_id)}/cancel")
        response = self._transport.request("POST", url, retry=Retry.IDEMPOTENT)
        return snapshot_from_body(self._json(response, batch_id))

    def list_batches(self, *, created_after: datetime | None = None) -> Iterator[BatchSnapshot]:
        """Every batch of the workspace, newest first, down to `created_after`."""
        return self._pages(
            BATCHES_PATH,
            cursor="after_id",
            created_after=created_after,
            snapshot=snapshot_from_body,
        )

    def results(
        self, snapshot: BatchSnapshot, *, custom_ids: Sequence[str] | None = None
    ) -> Iterator[BatchResult | bytes]:
        """The results of an ended batch, streamed; a cut stream is read again and resumed.

        Yields raw bytes for a line that does not parse, so the caller can report it.
        Anthropic's results hold a line for every request, so `custom_ids` is not needed.
        """
        url = self._results_url(snapshot)
        batch_id = snapshot.id
        for lines in resumed_lines(
            self._transport, url, what=f"results of {batch_id}", sleep=self._sleep
        ):
            for line in lines:
                yield parse_result_line(line, batch_id) or line

    def _auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self._api_key.get_secret_value()}

    def _results_url(self, snapshot: BatchSnapshot) -> httpx.URL:
        batch_id = check_batch_id(snapshot.id)
        require_ended(snapshot)
        if snapshot.results_url is None:
            raise ResultsNotReadyError(f"batch {batch_id} has ended but offers no results_url")
        return self._transport.check_same_origin(snapshot.results_url)
