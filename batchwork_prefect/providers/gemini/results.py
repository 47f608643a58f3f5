"""Gemini's batch results: responses file lines and inline responses, typed, failing closed.

A line is `{key, response: GenerateContentResponse}` or `{key, error: Status}` (an inline
response carries the key in `metadata.key` and is read as the same line). Each is decoded
once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Annotated, Any

import msgspec
import orjson

from batchwork_prefect.models import (
    BatchResult,
    BatchStatus,
    ResultError,
    ResultStatus,
    Usage,
    trusted,
)
from batchwork_prefect.providers.gemini.batches import RPC_CODES

FAILED_TYPE = "batch_failed"
"""The error type of a request in a batch Gemini failed as a whole, with no line of its own."""
REFUSED_REASONS = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "LANGUAGE",
    }
)
"""`finishReason`s read as a refusal (the answer was withheld or cut by a filter)."""


_Count = Annotated[int, msgspec.Meta(ge=0)]


class _UsageMetadata(msgspec.Struct, gc=False):
    promptTokenCount: _Count | None = None
    candidatesTokenCount: _Count | None = None
    thoughtsTokenCount: _Count | None = None
    toolUsePromptTokenCount: _Count | None = None
    cachedContentTokenCount: _Count | None = None


class _Part(msgspec.Struct, gc=False):
    text: str | None = None
    thought: bool | None = None


class _Content(msgspec.Struct, gc=False):
    parts: list[_Part] | None = None


class _Candidate(msgspec.Struct, gc=False):
    content: _Content | None = None
    finishReason: str | None = None


class _PromptFeedback(msgspec.Struct, gc=False):
    blockReason: str | None = None


class _Response(msgspec.Struct, gc=False):
    candidates: list[_Candidate] | None = None
    promptFeedback: _PromptFeedback | None = None
    usageMetadata: _UsageMetadata | None = None
    responseId: str | None = None


class _Status(msgspec.Struct, gc=False):
    code: int | None = None
    message: str | None = None
    status: str | None = None


class _Line(msgspec.Struct, gc=False):
    key: Annotated[str, msgspec.Meta(min_length=1)]
    response: _Response | None = None
    error: _Status | None = None


class _RawLine(msgspec.Struct, gc=False):
    response: msgspec.Raw


_LINE = msgspec.json.Decoder(_Line)
_RAW_LINE = msgspec.json.Decoder(_RawLine)
_NO_USAGE = Usage()


def _same(text: str) -> str:
    return text


def parse_result_line(
    line: bytes, batch_id: str | None = None, scrub: Callable[[str], str] = _same
) -> BatchResult | None:
    """One responses file line as a `BatchResult`, or None if it is not well-formed.

    A `response` is `succeeded`: text is the first candidate's text parts joined, thought
    parts left out ("" when it has none, e.g. only a function call, or no candidate when
    the prompt was blocked); a blocked prompt or a filter's `finishReason` reads as a
    refusal, `MAX_TOKENS` as cut by the token limit. An `error` is `errored`, typed by its
    `status` (else its `google.rpc.Code`'s name) with its message through `scrub`. A line
    with both or neither is refused. The result keeps `line`, for its `message` (the
    GenerateContentResponse).
    """
    try:
        entry = _LINE.decode(line)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    response, failure = entry.response, entry.error
    if (response is None) == (failure is None):
        return None
    if response is not None:
        text, stop = _text(response)
        return BatchResult.decoded(
            entry.key,
            ResultStatus.SUCCEEDED,
            batch_id,
            line,
            response_of_line,
            text,
            usage(response.usageMetadata),
            stop=stop,
        )
    assert failure is not None
    code = failure.code
    kind = failure.status or (RPC_CODES.get(code, f"code_{code}") if code is not None else "error")
    error = trusted(
        ResultError,
        {
            "type": kind,
            "message": scrub(failure.message or ""),
            "request_id": None,
            "status_code": None,
        },
    )
    return BatchResult.decoded(
        entry.key, ResultStatus.ERRORED, batch_id, line, _no_message, error=error
    )


def _text(response: _Response) -> tuple[str, str | None]:
    feedback = response.promptFeedback
    if not response.candidates:
        refused = feedback is not None and feedback.blockReason is not None
        return "", "refusal" if refused else None
    candidate = response.candidates[0]
    parts = candidate.content.parts if candidate.content is not None else None
    text = "".join(part.text for part in parts or () if part.text is not None and not part.thought)
    reason = candidate.finishReason
    if reason in REFUSED_REASONS:
        return text, "refusal"
    return text, "max_tokens" if reason == "MAX_TOKENS" else None


def usage(metadata: _UsageMetadata | None) -> Usage:
    """Gemini's token counts in the shared shape: prompt + tool-use prompt → input (cached
    tokens included, as Gemini counts them), candidates + thoughts → output (thinking is
    billed as output), cached content → cache read; no cache writes."""
    if metadata is None:
        return _NO_USAGE
    return Usage(
        input_tokens=(metadata.promptTokenCount or 0) + (metadata.toolUsePromptTokenCount or 0),
        output_tokens=(metadata.candidatesTokenCount or 0) + (metadata.thoughtsTokenCount or 0),
        cache_read_input_tokens=metadata.cachedContentTokenCount or 0,
    )


class _ResponseOfLine:
    """The GenerateContentResponse of a succeeded line that `parse_result_line` accepted."""

    def __call__(self, line: bytes) -> dict[str, Any]:
        response: dict[str, Any] = orjson.loads(line)["response"]
        return response

    def raw(self, line: bytes) -> msgspec.Raw:
        """The response's JSON, undecoded: how persisting results writes it."""
        return _RAW_LINE.decode(line).response


response_of_line = _ResponseOfLine()


def _no_message(line: bytes) -> None:
    return None


def inline_lines(output: Any) -> Iterator[bytes]:
    """`output.inlinedResponses.inlinedResponses` as result lines: each
    `{response | error, metadata: {key}}` as `{"key", "response" | "error"}`; one without a
    string key comes as its own JSON, which no line parser accepts."""
    holder = output.get("inlinedResponses") if isinstance(output, dict) else None
    items = holder.get("inlinedResponses") if isinstance(holder, dict) else None
    for item in items or ():
        metadata = item.get("metadata") if isinstance(item, dict) else None
        key = metadata.get("key") if isinstance(metadata, dict) else None
        if not isinstance(key, str):
            yield orjson.dumps(item)
            continue
        line: dict[str, Any] = {"key": key}
        for name in ("response", "error"):
            if name in item:
                line[name] = item[name]
        yield orjson.dumps(line)


_UNDONE = {
    (BatchStatus.CANCELLED, "CANCELLED"): ResultStatus.CANCELED,
    (BatchStatus.EXPIRED, "DEADLINE_EXCEEDED"): ResultStatus.EXPIRED,
}


def undone(item: BatchResult, status: BatchStatus) -> BatchResult:
    """`item` as `canceled` when it is a `CANCELLED` error of a cancelled batch, or as
    `expired` when it is a `DEADLINE_EXCEEDED` error of an expired one: a request the batch
    never ran. Any other result is returned as it is."""
    error = item.error
    if error is None:
        return item
    outcome = _UNDONE.get((status, error.type))
    if outcome is None:
        return item
    return BatchResult.decoded(item.custom_id, outcome, item.batch_id, None, None)


def unrun_results(
    status: BatchStatus,
    submitted: Iterable[str],
    seen: set[str],
    batch_id: str,
    reason: str,
) -> Iterator[BatchResult]:
    """A result for each submitted request the results lack, by how the batch ended:
    `expired`, `canceled`, or in a failed batch `errored` (`batch_failed`, with `reason`).
    Nothing for a batch that succeeded: a request missing there stays missing (the audit
    reports it)."""
    outcomes = {
        BatchStatus.EXPIRED: ResultStatus.EXPIRED,
        BatchStatus.CANCELLED: ResultStatus.CANCELED,
        BatchStatus.FAILED: ResultStatus.ERRORED,
    }
    outcome = outcomes.get(status)
    if outcome is None:
        return
    error = None
    if outcome is ResultStatus.ERRORED:
        error = trusted(
            ResultError,
            {
                "type": FAILED_TYPE,
                "message": "the batch failed before this request ran: "
                + (reason or "no reason given"),
                "request_id": None,
                "status_code": None,
            },
        )
    for custom_id in submitted:
        if custom_id in seen:
            continue
        seen.add(custom_id)
        yield BatchResult.decoded(custom_id, outcome, batch_id, None, None, error=error)
