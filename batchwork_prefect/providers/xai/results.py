"""xAI's batch results: pages of `{batch_request_id, batch_result}` read with typed structs.

A page is `{"results": [...], "pagination_token": ...}`. Each result holds
`batch_result.response.chat_get_completion` (a chat completion, as OpenAI's) or
`batch_result.error` (a message). Anything else fails closed: the entry is yielded raw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec
import orjson

from batchwork_prefect.models import BatchResult, ResultError, ResultStatus, Usage, trusted
from batchwork_prefect.providers.xai.batches import FILL_INTERRUPTED

ERROR_TYPE = "xai_error"
"""The error type of a failed request: xAI gives a message and no type or status."""

_Count = Annotated[int, msgspec.Meta(ge=0)]


class _PromptDetails(msgspec.Struct, gc=False):
    cached_tokens: _Count | None = None


class _TokenUsage(msgspec.Struct, gc=False):
    prompt_tokens: _Count | None = None
    completion_tokens: _Count | None = None
    prompt_tokens_details: _PromptDetails | None = None


class _Message(msgspec.Struct, gc=False):
    content: str | None = None
    refusal: str | None = None


class _Choice(msgspec.Struct, gc=False):
    message: _Message
    finish_reason: str | None = None


class _Completion(msgspec.Struct, gc=False):
    choices: Annotated[list[_Choice], msgspec.Meta(min_length=1)]
    usage: _TokenUsage | None = None


class _Response(msgspec.Struct, gc=False):
    chat_get_completion: msgspec.Raw


class _Status(msgspec.Struct, gc=False):
    """An error as gRPC writes it (`google.rpc.Status`), should REST send that form."""

    message: str
    code: int | None = None


class _Outcome(msgspec.Struct, gc=False):
    response: _Response | None = None
    error: str | _Status | None = None


class _Entry(msgspec.Struct, gc=False):
    batch_request_id: Annotated[str, msgspec.Meta(min_length=1)]
    batch_result: _Outcome


class _RawOutcome(msgspec.Struct, gc=False):
    response: _Response


class _RawEntry(msgspec.Struct, gc=False):
    batch_result: _RawOutcome


class Page(msgspec.Struct, gc=False):
    """One page of results (or of request metadata): its entries undecoded, and the token
    of the next page (None or "" on the last)."""

    results: list[msgspec.Raw] = []
    batch_request_metadata: list[msgspec.Raw] = []
    batches: list[msgspec.Raw] = []
    pagination_token: str | None = None


class Metadata(msgspec.Struct, gc=False):
    """One request's metadata: its id and state (`pending`, `succeeded`, `cancelled`...)."""

    batch_request_id: Annotated[str, msgspec.Meta(min_length=1)]
    state: str


PAGE = msgspec.json.Decoder(Page)
METADATA = msgspec.json.Decoder(Metadata)
_ENTRY = msgspec.json.Decoder(_Entry)
_COMPLETION = msgspec.json.Decoder(_Completion)
_RAW_ENTRY = msgspec.json.Decoder(_RawEntry)
_NO_USAGE = Usage()


def _same(text: str) -> str:
    return text


def parse_result(
    entry: bytes, batch_id: str | None = None, scrub: Callable[[str], str] = _same
) -> BatchResult | None:
    """One result as a `BatchResult`, or None if it is not well-formed.

    A response is `succeeded` (text: the first choice's content, "" when it has none); an
    error is `errored` with type `xai_error` and its message, scrubbed. An entry with both,
    or neither, is refused, as is a count that is not a non-negative integer. The result
    keeps `entry`, for its `message` (the chat completion).
    """
    try:
        decoded = _ENTRY.decode(entry)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    outcome = decoded.batch_result
    custom_id = decoded.batch_request_id
    if outcome.response is not None:
        if outcome.error is not None:
            return None
        try:
            completion = _COMPLETION.decode(outcome.response.chat_get_completion)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        choice = completion.choices[0]
        text = choice.message.content
        return BatchResult.decoded(
            custom_id,
            ResultStatus.SUCCEEDED,
            batch_id,
            entry,
            completion_of_entry,
            "" if text is None else text,
            _usage(completion.usage),
            stop=_stop(choice),
        )
    failure = outcome.error
    if failure is None:
        return None
    message = failure if isinstance(failure, str) else failure.message
    error = trusted(
        ResultError,
        {"type": ERROR_TYPE, "message": scrub(message), "request_id": None, "status_code": None},
    )
    return BatchResult.decoded(
        custom_id, ResultStatus.ERRORED, batch_id, entry, _no_message, error=error
    )


def _stop(choice: _Choice) -> str | None:
    """`refusal` (a refusal, or a content filter) or `max_tokens` (cut by the limit)."""
    if choice.message.refusal is not None or choice.finish_reason == "content_filter":
        return "refusal"
    return "max_tokens" if choice.finish_reason == "length" else None


def _usage(usage: _TokenUsage | None) -> Usage:
    """xAI's token counts in the shared shape: prompt → input (cached tokens included, as
    xAI counts them), completion → output, cached → cache read; no cache writes."""
    if usage is None:
        return _NO_USAGE
    details = usage.prompt_tokens_details
    return Usage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        cache_read_input_tokens=(details.cached_tokens or 0) if details is not None else 0,
    )


class _CompletionOfEntry:
    """The chat completion of a succeeded result that `parse_result` accepted."""

    def __call__(self, entry: bytes) -> dict[str, Any]:
        completion: dict[str, Any] = orjson.loads(entry)["batch_result"]["response"][
            "chat_get_completion"
        ]
        return completion

    def raw(self, entry: bytes) -> msgspec.Raw:
        """The completion's JSON, undecoded: how persisting results writes it."""
        return _RAW_ENTRY.decode(entry).batch_result.response.chat_get_completion


completion_of_entry = _CompletionOfEntry()


def _no_message(entry: bytes) -> None:
    return None


def not_run(
    custom_id: str, status: ResultStatus, batch_id: str, error: ResultError | None = None
) -> BatchResult:
    """A result for a request the batch never ran (cancelled, expired, never added)."""
    return BatchResult.decoded(custom_id, status, batch_id, None, None, error=error)


def fill_error(batch_id: str) -> ResultError:
    """The error of a request its create never added to `batch_id`."""
    return trusted(
        ResultError,
        {
            "type": FILL_INTERRUPTED,
            "message": f"never added to xAI batch {batch_id}: the create stopped while adding "
            "its requests; this one did not run and cost nothing; send it again",
            "request_id": None,
            "status_code": None,
        },
    )
