"""Together's batch output and error files: each line decoded once, typed, failing closed.

An output line is `{custom_id, response: {status_code, body}}`: a 200 body is a chat
completion, another status's body an API error. An error file line is `{custom_id, error:
{message, code}}`. Together's usage may put the cached prompt tokens under
`prompt_tokens_details.cached_tokens` or, as its serverless answers do, at the top level
(`cached_tokens`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import msgspec

from batchwork_prefect.models import BatchResult, ResultError, ResultStatus, Usage, trusted
from batchwork_prefect.providers.openai.results import completion_of_line

_Count = Annotated[int, msgspec.Meta(ge=0)]


class _PromptDetails(msgspec.Struct, gc=False):
    cached_tokens: _Count | None = None


class _TokenUsage(msgspec.Struct, gc=False):
    prompt_tokens: _Count | None = None
    completion_tokens: _Count | None = None
    cached_tokens: _Count | None = None
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
    message: str | None = None
    code: str | int | None = None
    type: str | None = None


class _Line(msgspec.Struct, gc=False):
    custom_id: Annotated[str, msgspec.Meta(min_length=1)]
    response: _Response | None = None
    error: _LineError | str | None = None


_LINE = msgspec.json.Decoder(_Line)
_COMPLETION = msgspec.json.Decoder(_Completion)
_ERROR_BODY = msgspec.json.Decoder(_ErrorBody)
_NO_USAGE = Usage()
_SUCCEEDED = ResultStatus.SUCCEEDED
_ERRORED = ResultStatus.ERRORED
REQUEST_FAILED = "request_failed"
"""The error type of an error line that names neither a code nor a type."""


def _same(text: str) -> str:
    return text


def parse_result_line(
    line: bytes, batch_id: str | None = None, scrub: Callable[[str], str] = _same
) -> BatchResult | None:
    """One output or error file line as a `BatchResult`, or None if it is not well-formed.

    A 200 response is `succeeded` (text: the first choice's message content, "" when it
    has none); another status is `errored` with its API error's type (or code) and
    message; an `error` line is `errored` with its code (else its type, else
    `request_failed`) and message. A line with both a response and an error, or neither,
    is refused. Error text goes through `scrub`.
    """
    try:
        entry = _LINE.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    response, failure, custom_id = entry.response, entry.error, entry.custom_id
    if response is not None:
        if failure is not None:
            return None
        status_code = response.status_code
        if status_code == 200:
            try:
                completion = _COMPLETION.decode(response.body)
            except (msgspec.ValidationError, msgspec.DecodeError):
                return None
            choice = completion.choices[0]
            text = choice.message.content
            return BatchResult.decoded(
                custom_id,
                _SUCCEEDED,
                batch_id,
                line,
                completion_of_line,
                "" if text is None else text,
                _usage(completion.usage),
                stop=_stop(choice),
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
    if failure is None:
        return None
    if isinstance(failure, str):
        error = _error(REQUEST_FAILED, scrub(failure), None)
    else:
        code = str(failure.code) if failure.code is not None else failure.type
        error = _error(code or REQUEST_FAILED, scrub(failure.message or ""), None)
    return BatchResult.decoded(custom_id, _ERRORED, batch_id, line, _no_message, error=error)


def _stop(choice: _Choice) -> str | None:
    """`refusal` (a refusal, or a content filter), `max_tokens` (cut by the limit), else
    None: why an answer is not a whole one, in Anthropic's words."""
    if choice.message.refusal is not None or choice.finish_reason == "content_filter":
        return "refusal"
    return "max_tokens" if choice.finish_reason == "length" else None


def _usage(usage: _TokenUsage | None) -> Usage:
    """Together's counts in the shared shape: prompt → input (cached tokens included),
    completion → output, cached → cache read; no cache writes."""
    if usage is None:
        return _NO_USAGE
    details = usage.prompt_tokens_details
    cached = details.cached_tokens if details is not None else None
    if cached is None:
        cached = usage.cached_tokens
    return Usage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cache_read_input_tokens=cached or 0,
    )


def _error(
    kind: str, message: str, request_id: str | None, status_code: int | None = None
) -> ResultError:
    return trusted(
        ResultError,
        {"type": kind, "message": message, "request_id": request_id, "status_code": status_code},
    )


def _no_message(line: bytes) -> None:
    """The message of a result that is not a success: it has none."""
    return None
