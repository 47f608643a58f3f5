"""Building an ended OpenAI batch's output and error files (compact JSONL, seeded order).

Succeeded requests go to the output file as ``chat.completion`` responses. Errored requests
go to the error file as non-200 responses; requests a cancel or the 24 h expiry left undone
(and those marked canceled/expired) go there with ``response: null`` and an ``error``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson

from .._answers import ContentFn, ReplyFn, UsageFn, answer, output_chars
from .._ids import base62_token, hex_token
from .._markers import LineError
from .._replies import input_chars, token_count
from .._state import Batch, tally
from ._batch import batch_usage

SERVER_ERROR_MESSAGE = "The server had an error while processing your request. Sorry about that!"
UNDONE_MESSAGES = {
    "batch_expired": "This request could not be executed before the completion window expired.",
    "batch_cancelled": "This request was not executed because the batch was cancelled.",
}
MARKER_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "timeout_error": 504,
    "overloaded_error": 503,
}


@dataclass(frozen=True, slots=True)
class BuiltFiles:
    """The two files' bytes (either may be empty) and the usage summed over successes."""

    output: bytes
    errors: bytes
    usage: dict[str, object]


@dataclass(frozen=True, slots=True)
class ReplyHooks:
    """The emulator's reply callables (``Settings.reply_*``)."""

    text: ReplyFn | None
    content: ContentFn | None
    usage: UsageFn | None


def build_files(batch: Batch, created: int, seed: int, hooks: ReplyHooks) -> BuiltFiles:
    """Both files of an ended batch; ``created`` stamps the completions."""
    rng = random.Random(f"{seed}:{','.join(batch.custom_ids)}:openai-results")
    outcome = tally(batch)
    leftover = "batch_cancelled" if outcome.kind == "cancel" else "batch_expired"
    totals = [0, 0, 0, 0]  # prompt, cached, completion, reasoning
    output: list[bytes] = []
    for index in batch.succeeded[: outcome.succeeded_done]:
        submission = batch.submission(index)
        body = _completion(batch.params[index], submission, created, rng, hooks, totals)
        output.append(_line(rng, batch.custom_ids[index], _response(rng, 200, body), None))
    errors: list[bytes] = []
    for index, error in batch.errored[: outcome.errored_done]:
        status, body = _error_response(error)
        errors.append(_line(rng, batch.custom_ids[index], _response(rng, status, body), None))
    undone = batch.succeeded[outcome.succeeded_done :] + [
        index for index, _ in batch.errored[outcome.errored_done :]
    ]
    marked = [(index, leftover) for index in undone + batch.marked_expired]
    marked += [(index, "batch_cancelled") for index in batch.marked_canceled]
    for index, code in marked:
        undone_error = {"code": code, "message": UNDONE_MESSAGES[code]}
        errors.append(_line(rng, batch.custom_ids[index], None, undone_error))
    rng.shuffle(output)
    rng.shuffle(errors)
    return BuiltFiles(_join(output), _join(errors), batch_usage(*totals))


def _completion(
    body: dict[str, Any],
    submission: int,
    created: int,
    rng: random.Random,
    hooks: ReplyHooks,
    totals: list[int],
) -> dict[str, Any]:
    reply = answer(body, submission, "openai", hooks.text, hooks.content)
    content = reply.content
    message, reasoning_chars = _message(content, rng)
    if reply.stop == "refusal":
        message["content"], message["refusal"] = None, message["content"]
    finish_reason = "length" if reply.stop == "max_tokens" else "stop"
    usage = _usage(body, content, reasoning_chars, hooks.usage, reply.output_tokens)
    totals[0] += int(usage["prompt_tokens"])
    totals[1] += int(usage.get("prompt_tokens_details", {}).get("cached_tokens", 0))
    totals[2] += int(usage["completion_tokens"])
    totals[3] += int(usage.get("completion_tokens_details", {}).get("reasoning_tokens", 0))
    return {
        "id": "chatcmpl-" + base62_token(rng, 29),
        "object": "chat.completion",
        "created": created,
        "model": body.get("model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if "tool_calls" in message else finish_reason,
            }
        ],
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": "fp_" + hex_token(rng, 10),
    }


def _message(content: list[dict[str, Any]], rng: random.Random) -> tuple[dict[str, Any], int]:
    """The assistant message for Anthropic-shaped content blocks, and its reasoning chars."""
    texts = [str(block.get("text", "")) for block in content if block.get("type") == "text"]
    calls = [
        {
            "id": "call_" + base62_token(rng, 24),
            "type": "function",
            "function": {
                "name": block.get("name"),
                "arguments": orjson.dumps(block.get("input", {})).decode(),
            },
        }
        for block in content
        if block.get("type") == "tool_use"
    ]
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
        "refusal": None,
        "annotations": [],
    }
    if calls:
        message["tool_calls"] = calls
    reasoning = sum(
        len(str(block.get("thinking", ""))) for block in content if block.get("type") == "thinking"
    )
    return message, reasoning


def _usage(
    body: dict[str, Any],
    content: list[dict[str, Any]],
    reasoning_chars: int,
    reply_usage: UsageFn | None,
    output_tokens: int | None,
) -> dict[str, Any]:
    prompt = token_count(input_chars(body))
    completion = output_tokens or token_count(output_chars(content))
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": token_count(reasoning_chars) if reasoning_chars else 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    if reply_usage is not None:
        given = reply_usage(body)
        usage.update(given)
        if "total_tokens" not in given:
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return usage


def _error_response(error: LineError) -> tuple[int, dict[str, Any]]:
    status = error.status or MARKER_STATUS.get(error.error_type, 500)
    error_type, message = error.error_type, error.message
    if error_type == "api_error":
        error_type, message = "server_error", SERVER_ERROR_MESSAGE
    inner = {"message": message, "type": error_type, "param": error.param, "code": error.code}
    return status, {"error": inner}


def _response(rng: random.Random, status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"status_code": status, "request_id": hex_token(rng), "body": body}


def _line(
    rng: random.Random,
    custom_id: str,
    response: dict[str, Any] | None,
    error: dict[str, str] | None,
) -> bytes:
    entry = {
        "id": "batch_req_" + base62_token(rng, 24),
        "custom_id": custom_id,
        "response": response,
        "error": error,
    }
    return bytes(memoryview(orjson.dumps(entry)))


def _join(lines: list[bytes]) -> bytes:
    if not lines:
        return b""
    lines.append(b"")
    return b"\n".join(lines)
