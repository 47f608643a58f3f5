"""OpenAI's batch output and error files: each line decoded once, typed, failing closed.

A line is `{custom_id, response: {status_code, request_id, body} | null, error: {code,
message} | null}`. A 200 response's body is a chat completion; any other status's body is
an API error; `error` (no response) is a request the batch did not run, or could not.
"""

from __future__ import annotations

from collections.abc import Callable
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

EXPIRED_CODE = "batch_expired"
CANCELLED_CODE = "batch_cancelled"
"""The error type of a request in a batch the provider failed as a whole, its line unnamed."""

_Count = Annotated[int, msgspec.Meta(ge=0)]


class _PromptDetails(msgspec.Struct, gc=False):
    cached_tokens: _Count | None = None


class _TokenUsage(msgspec.Struct, gc=False):
    prompt_tokens: _Count | None = None
    completion_tokens: _Count | None = None
    prompt_tokens_details: _PromptDetails | None = None


class _ChatMessage(msgspec.Struct, gc=False):
    content: str | None = None
    refusal: str | None = None


class _Choice(msgspec.Struct, gc=False):
    message: _ChatMessage
    finish_reason: str | None = None


class _Completion(msgspec.Struct, gc=False):
    choices: Annotated[list[_Choice], msgspec.Meta(min_length=1)]
    usage: _TokenUsage | None = None


class _ApiError(msgspec.Struct, gc=False):
    message: str
    type: str | None = None
    code: str | int | None = None


class _ErrorBody(msgspec.Struct, gc=False):
    error: _ApiError


class _Response(msgspec.Struct, gc=False):
    status_code: int
    body: msgspec.Raw
    request_id: str | None = None


class _LineError(msgspec.Struct, gc=False):
    code: str
    message: str | None = None


class _Line(msgspec.Struct, gc=False):
    custom_id: Annotated[str, msgspec.Meta(min_length=1)]
    response: _Response | None = None
    error: _LineError | None = None


class _RawResponse(msgspec.Struct, gc=False):
    body: msgspec.Raw


class _RawLine(msgspec.Struct, gc=False):
    response: _RawResponse


class _InputLine(msgspec.Struct, gc=False):
    custom_id: Annotated[str, msgspec.Meta(min_length=1)]


_LINE = msgspec.json.Decoder(_Line)
_COMPLETION = msgspec.json.Decoder(_Completion)
_ERROR_BODY = msgspec.json.Decoder(_ErrorBody)
_RAW_LINE = msgspec.json.Decoder(_RawLine)
_INPUT_LINE = msgspec.json.Decoder(_InputLine)
_NO_USAGE = Usage()
_SUCCEEDED = ResultStatus.SUCCEEDED
_ERRORED = ResultStatus.ERRORED


def _same(text: str) -> str:
    return text


def parse_result_line(
    line: bytes, batch_id: str | None = None, scrub: Callable[[str], str] = _same
) -> BatchResult | None:
    """One output or error file line as a `BatchResult`, or None if it is not well-formed.

    A 200 response is `succeeded` (text: the first choice's message content, "" when it
    has none, e.g. only tool calls); another status is `errored` with its API error's type
    (or code) and message and the request id; an `error` without a response is `expired`
    (`batch_expired`), `canceled` (`batch_cancelled`) or else `errored` with its code.
    A line with both a response and an error, or neither, is refused, as is a count that
    is not a non-negative integer (a null count reads as 0). Error text goes through
    `scrub`. The result keeps `line`, for its `message` (the chat completion).
    """
    try:
        entry = _LINE.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    response = entry.response
    custom_id = entry.custom_id
    if response is not None:
        if entry.error is not None:
            return None
        status_code = response.status_code
        if status_code == 200:
            try:
                completion = _COMPLETION.decode(response.body)
            except (msgspec.ValidationError, msgspec.DecodeError):
                return None
            choice = completion.choices[0]
            message = choice.message
            text = message.content
            # Usage in the shared shape: prompt -> input (cached tokens included, as OpenAI
            # counts them), completion -> output, cached -> cache read; no cache writes.
            # Written inline, as is the stop below: a Python call per result each saved.
            counts = completion.usage
            if counts is None:
                usage = _NO_USAGE
            else:
                details = counts.prompt_tokens_details
                usage = Usage(
                    input_tokens=counts.prompt_tokens or 0,
                    output_tokens=counts.completion_tokens or 0,
                    cache_read_input_tokens=(
                        (details.cached_tokens or 0) if details is not None else 0
                    ),
                )
            # Why an answer is not a whole one, in Anthropic's words: a refusal (or a content
            # filter), or cut by the token limit.
            finish = choice.finish_reason
            if message.refusal is not None or finish == "content_filter":
                stop: str | None = "refusal"
            else:
                stop = "max_tokens" if finish == "length" else None
            return BatchResult.decoded(
                custom_id,
                _SUCCEEDED,
                batch_id,
                line,
                completion_of_line,
                "" if text is None else text,
                usage,
                stop=stop,
            )
        try:
            api_error = _ERROR_BODY.decode(response.body).error
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        kind = api_error.type or (str(api_error.code) if api_error.code is not None else None)
        error = _error(
            kind or f"http_{status_code}",
            scrub(api_error.message),
            response.request_id,
            status_code,
        )
        return BatchResult.decoded(custom_id, _ERRORED, batch_id, line, _no_message, error=error)
    failure = entry.error
    if failure is None:
        return None
    if failure.code == EXPIRED_CODE:
        return BatchResult.decoded(custom_id, ResultStatus.EXPIRED, batch_id, line, _no_message)
    if failure.code == CANCELLED_CODE:
        return BatchResult.decoded(custom_id, ResultStatus.CANCELED, batch_id, line, _no_message)
    error = _error(failure.code, scrub(failure.message or ""), None)
    return BatchResult.decoded(custom_id, _ERRORED, batch_id, line, _no_message, error=error)


def _error(
    kind: str, message: str, request_id: str | None, status_code: int | None = None
) -> ResultError:
    return trusted(
        ResultError,
        {"type": kind, "message": message, "request_id": request_id, "status_code": status_code},
    )


class _CompletionOfLine:
    """The chat completion of a succeeded line that `parse_result_line` accepted."""

    def __call__(self, line: bytes) -> dict[str, Any]:
        completion: dict[str, Any] = orjson.loads(line)["response"]["body"]
        return completion

    def raw(self, line: bytes) -> msgspec.Raw:
        """The completion's JSON, undecoded: how persisting results writes it."""
        return _RAW_LINE.decode(line).response.body


completion_of_line = _CompletionOfLine()


def _no_message(line: bytes) -> None:
    """The message of a result that is not a success: it has none."""
    return None


def input_custom_id(line: bytes) -> str | None:
    """The custom_id of one line of a batch's input file, or None if it has none."""
    try:
        return _INPUT_LINE.decode(line).custom_id
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
