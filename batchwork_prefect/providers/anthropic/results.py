"""Anthropic's results lines, read with typed msgspec structs, checked in C."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
import orjson

from batchwork_prefect.models import (
    BatchResult,
    ResultError,
    ResultStatus,
    Usage,
    trusted,
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
