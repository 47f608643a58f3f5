"""Each request's outcome as Gemini writes it: ``{response: GenerateContentResponse}`` or
``{error: Status}`` (google.rpc.Status: a numeric ``code`` and a ``message``).

Responses come in request order (the API promises the input order). A succeeded reply is
one candidate whose ``content.parts`` hold the text (thinking as ``thought: true`` parts,
tool calls as ``functionCall``); ``finishReason`` is ``STOP``, ``MAX_TOKENS`` for a reply
cut at ``maxOutputTokens``, ``SAFETY`` (no content) for a refusal. ``usageMetadata``
counts like the other APIs (4 characters a token); as proto3 JSON does, zero counts other
than ``promptTokenCount`` and ``totalTokenCount`` are left out. ``reply_usage`` may set
any of its fields (``thoughtsTokenCount``, ``cachedContentTokenCount``...); the total is
then recomputed unless given.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson

from .._answers import ContentFn, ReplyFn, UsageFn, answer
from .._ids import base62_token
from .._markers import LineError
from .._replies import input_chars, token_count
from .._state import Batch, tally
from ._params import as_messages

# google.rpc.Code numbers of the per-request errors
RPC_CODE: dict[str, int] = {
    "invalid_request_error": 3,
    "not_found_error": 5,
    "permission_error": 7,
    "rate_limit_error": 8,
    "authentication_error": 16,
    "timeout_error": 4,
    "overloaded_error": 14,
    "api_error": 13,
}
CANCELLED, DEADLINE_EXCEEDED, INTERNAL = 1, 4, 13
UNDONE_MESSAGES = {
    CANCELLED: "The request was not processed because the batch was cancelled.",
    DEADLINE_EXCEEDED: "The request was not processed before the batch expired.",
}
REFUSAL_RATING = {
    "category": "HARM_CATEGORY_DANGEROUS_CONTENT",
    "probability": "HIGH",
    "blocked": True,
}


@dataclass(frozen=True, slots=True)
class ReplyHooks:
    """The emulator's reply callables (``Settings.reply_*``)."""

    text: ReplyFn | None
    content: ContentFn | None
    usage: UsageFn | None


def outcomes(batch: Batch, model: str, seed: int, hooks: ReplyHooks) -> list[dict[str, Any]]:
    """``{response}`` or ``{error}`` of every request of an ended batch, in request order."""
    rng = random.Random(f"{seed}:{','.join(batch.custom_ids)}:gemini-results")
    outcome = tally(batch)
    undone_code = CANCELLED if outcome.kind == "cancel" else DEADLINE_EXCEEDED
    found: dict[int, dict[str, Any]] = {}
    for index in batch.succeeded[: outcome.succeeded_done]:
        params = batch.params[index]
        found[index] = {
            "response": generate_response(params, batch.submission(index), model, rng, hooks)
        }
    for index, error in batch.errored[: outcome.errored_done]:
        found[index] = {"error": line_error(error)}
    for index in batch.succeeded[outcome.succeeded_done :]:
        found[index] = {"error": _undone(undone_code)}
    for index, _ in batch.errored[outcome.errored_done :]:
        found[index] = {"error": _undone(undone_code)}
    for index in batch.marked_expired:
        found[index] = {"error": _undone(undone_code)}
    for index in batch.marked_canceled:
        found[index] = {"error": _undone(CANCELLED)}
    return [found[index] for index in range(batch.total)]


def line_error(error: LineError) -> dict[str, Any]:
    """The google.rpc.Status of an errored request."""
    return {"code": RPC_CODE.get(error.error_type, INTERNAL), "message": error.message}


def generate_response(
    request: dict[str, Any], submission: int, model: str, rng: random.Random, hooks: ReplyHooks
) -> dict[str, Any]:
    """A ``GenerateContentResponse`` for a succeeded request."""
    params = as_messages(request)
    hooked = dict(request)
    text_hook, content_hook = hooks.text, hooks.content
    reply = answer(
        params,
        submission,
        "anthropic",
        None if text_hook is None else (lambda _: text_hook(hooked)),
        None if content_hook is None else (lambda _: content_hook(hooked)),
    )
    prompt = token_count(input_chars(params))
    candidate: dict[str, Any] = {"index": 0}
    output, thoughts = 0, 0
    if reply.stop == "refusal":
        candidate["finishReason"] = "SAFETY"
        candidate["safetyRatings"] = [REFUSAL_RATING]
    else:
        parts, output, thoughts = _parts(reply.content)
        candidate["content"] = {"parts": parts, "role": "model"}
        candidate["finishReason"] = "MAX_TOKENS" if reply.stop == "max_tokens" else "STOP"
        if reply.output_tokens is not None:
            output = reply.output_tokens
    usage: dict[str, Any] = {"promptTokenCount": prompt}
    if output:
        usage["candidatesTokenCount"] = output
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    usage["totalTokenCount"] = prompt + output + thoughts
    usage["promptTokensDetails"] = [{"modality": "TEXT", "tokenCount": prompt}]
    if hooks.usage is not None:
        given = hooks.usage(hooked)
        usage.update(given)
        if "totalTokenCount" not in given:
            usage["totalTokenCount"] = sum(
                int(usage.get(name, 0))
                for name in ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount")
            )
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model.removeprefix("models/"),
        "responseId": base62_token(rng, 22),
    }


def jsonl(keys: list[str], items: list[dict[str, Any]]) -> bytes:
    """The responses file: one ``{"key", "response"|"error"}`` line per request."""
    lines = [orjson.dumps({"key": key, **item}) for key, item in zip(keys, items, strict=True)]
    return b"\n".join(lines) + b"\n" if lines else b""


def _parts(content: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int, int]:
    """Gemini parts of Anthropic-shaped blocks, and their output and thought tokens."""
    parts: list[dict[str, Any]] = []
    output_chars, thought_chars = 0, 0
    for block in content:
        kind = block.get("type")
        if kind == "thinking":
            text = str(block.get("thinking", ""))
            parts.append({"text": text, "thought": True})
            thought_chars += len(text)
        elif kind == "tool_use":
            args = block.get("input", {})
            parts.append({"functionCall": {"name": block.get("name"), "args": args}})
            output_chars += len(orjson.dumps(args))
        elif kind == "text":
            text = str(block.get("text", ""))
            parts.append({"text": text})
            output_chars += len(text)
    output = token_count(output_chars) if output_chars or not thought_chars else 0
    thoughts = token_count(thought_chars) if thought_chars else 0
    return parts, output, thoughts


def _undone(code: int) -> dict[str, Any]:
    return {"code": code, "message": UNDONE_MESSAGES[code]}
