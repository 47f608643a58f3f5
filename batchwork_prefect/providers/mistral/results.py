"""Mistral's batch output and error file lines: each decoded once, typed, failing closed.

A line is `{id, custom_id, response: {status_code, body} | null, error: ... | null}` (the
batch docs' result file). A 200 response's body is a chat completion; another status's body
is an API error. The docs show no error file line: one with `error` and no response is read
as an errored request, its error an object with a `message` (and a `code` or `type`) or a
bare string.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec

from batchwork_prefect.models import BatchResult, ResultError, ResultStatus, Usage, trusted
from batchwork_prefect.outputs import CONTEXT_WINDOW_EXCEEDED
from batchwork_prefect.providers.openai.results import completion_of_line

_Count = Annotated[int, msgspec.Meta(ge=0)]


class _PromptDetails(msgspec.Struct, gc=False):
    cached_tokens: _Count | None = None


class _TokenUsage(msgspec.Struct, gc=False):
    prompt_tokens: _Count | None = None
    completion_tokens: _Count | None = None
    num_cached_tokens: _Count | None = None
    prompt_tokens_details: _PromptDetails | None = None
    prompt_token_details: _PromptDetails | None = None


class _Chunk(msgspec.Struct, gc=False):
    type: str = "text"
    text: str | None = None


class _ChatMessage(msgspec.Struct, gc=False):
    content: str | list[_Chunk] | None = None


class _Choice(msgspec.Struct, gc=False):
    message: _ChatMessage
    finish_reason: str | None = None


class _Completion(msgspec.Struct, gc=False):
    choices: Annotated[list[_Choice], msgspec.Meta(min_length=1)]
    usage: _TokenUsage | None = None


class _Response(msgspec.Struct, gc=False):
    status_code: int
    body: msgspec.Raw


class _Line(msgspec.Struct, gc=False):
    custom_id: Annotated[str, msgspec.Meta(min_length=1)]
    response: _Response | None = None
    error: msgspec.Raw = msgspec.Raw(b"null")


_LINE = msgspec.json.Decoder(_Line)
_COMPLETION = msgspec.json.Decoder(_Completion)
_ANY = msgspec.json.Decoder()
_NO_USAGE = Usage()
_STOPS = {"length": "max_tokens", "model_length": CONTEXT_WINDOW_EXCEEDED, "error": "error"}
"""`finish_reason`s that mean an answer is not a whole one, in the shared words."""


def _same(text: str) -> str:
    return text


def parse_result_line(
    line: bytes, batch_id: str | None = None, scrub: Callable[[str], str] = _same
) -> BatchResult | None:
    """One output or error file line as a `BatchResult`, or None if it is not well-formed.

    A 200 response is `succeeded`: its text is the first choice's content (a string, or the
    text of its text chunks, thinking left out; "" when it has none, e.g. only tool calls).
    Another status is `errored` with the error body's `type` (else `code`, else
    `http_<status>`) and `message`. A line with `error` and no response is `errored` with
    that error. A line with both, or neither, is refused. Error text goes through `scrub`.
    """
    try:
        entry = _LINE.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    response, custom_id = entry.response, entry.custom_id
    failure = _ANY.decode(entry.error)
    if response is not None:
        if failure is not None:
            return None
        if response.status_code == 200:
            return _succeeded(custom_id, batch_id, line, response.body)
        error = _api_error(_ANY.decode(response.body), response.status_code, scrub)
    elif failure is not None:
        error = _line_error(failure, scrub)
    else:
        return None
    if error is None:
        return None
    return BatchResult.decoded(
        custom_id, ResultStatus.ERRORED, batch_id, line, _no_message, error=error
    )


def _succeeded(custom_id: str, batch_id: str | None, line: bytes, raw: bytes) -> BatchResult | None:
    try:
        completion = _COMPLETION.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    choice = completion.choices[0]
    content = choice.message.content
    if isinstance(content, list):
        text = "".join(chunk.text or "" for chunk in content if chunk.type == "text")
    else:
        text = content or ""
    return BatchResult.decoded(
        custom_id,
        ResultStatus.SUCCEEDED,
        batch_id,
        line,
        completion_of_line,
        text,
        _usage(completion.usage),
        stop=_STOPS.get(choice.finish_reason or ""),
    )


def _usage(usage: _TokenUsage | None) -> Usage:
    """Mistral's counts in the shared shape: prompt → input (cached tokens included, as in
    OpenAI's form it follows), completion → output, cached (`prompt_tokens_details`, its
    `prompt_token_details` spelling, else `num_cached_tokens`) → cache read."""
    if usage is None:
        return _NO_USAGE
    details = usage.prompt_tokens_details or usage.prompt_token_details
    cached = details.cached_tokens if details is not None else None
    if cached is None:
        cached = usage.num_cached_tokens
    return Usage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cache_read_input_tokens=cached or 0,
    )


def _api_error(body: Any, status: int, scrub: Callable[[str], str]) -> ResultError | None:
    """An error response's body: `{message, type, code, ...}`, or a validation error's
    `{detail: [{msg, loc}, ...]}`; else None (refused)."""
    if not isinstance(body, dict):
        return None
    nested = body.get("error")
    inner: dict[str, Any] = nested if isinstance(nested, dict) else body
    message = inner.get("message")
    detail = inner.get("detail")
    if message is None and isinstance(detail, list):
        message = "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in detail
        )
    elif message is not None and not isinstance(message, str):
        message = msgspec.json.encode(message).decode()
    if not isinstance(message, str):
        return None
    kind = _kind(inner) or f"http_{status}"
    return _error(kind, scrub(message), status)


def _line_error(failure: Any, scrub: Callable[[str], str]) -> ResultError | None:
    if isinstance(failure, str):
        return _error("error", scrub(failure), None)
    if not isinstance(failure, dict) or not isinstance(failure.get("message"), str):
        return None
    return _error(_kind(failure) or "error", scrub(failure["message"]), None)


def _kind(error: dict[str, Any]) -> str | None:
    for key in ("type", "code"):
        value = error.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _error(kind: str, message: str, status_code: int | None) -> ResultError:
    return trusted(
        ResultError,
        {"type": kind, "message": message, "request_id": None, "status_code": status_code},
    )


def _no_message(line: bytes) -> None:
    """The message of a result that is not a success: it has none."""
    return None


def input_custom_id(line: bytes) -> str | None:
    """The custom_id of one line of a job's input file (`{custom_id, body}`), else None."""
    try:
        value = _ANY.decode(line)
    except msgspec.DecodeError:
        return None
    custom_id = value.get("custom_id") if isinstance(value, dict) else None
    return custom_id if isinstance(custom_id, str) and custom_id else None
