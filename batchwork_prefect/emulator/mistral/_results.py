"""An ended Mistral job's result lines, as the batch docs' result file shows them:
``{id, custom_id, response: {status_code, body}, error: null}``. Succeeded requests go to
the output file with a chat completion; errored ones to the error file with their error
status and a Mistral error body. Requests a cancel or the timeout left undone are in
neither file."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson

from .._answers import answer, output_chars
from .._ids import base62_token, hex_token
from .._markers import LineError
from .._replies import input_chars, token_count
from .._state import Batch, tally
from ..openai._results import MARKER_STATUS, ReplyHooks
from ._wire import mistral_error_type_for

FINISH_REASONS = {"max_tokens": "length", "end": "stop", "refusal": "stop"}


@dataclass(frozen=True, slots=True)
class BuiltLines:
    """The output and error lines of an ended job, in file order."""

    output: list[dict[str, Any]]
    errors: list[dict[str, Any]]


def build_lines(batch: Batch, created: int, seed: int, hooks: ReplyHooks) -> BuiltLines:
    """Both files' lines; ``created`` stamps the completions."""
    rng = random.Random(f"{seed}:{','.join(batch.custom_ids)}:mistral-results")
    outcome = tally(batch)
    prefix = hex_token(rng, 8)
    output: list[dict[str, Any]] = []
    for index in batch.succeeded[: outcome.succeeded_done]:
        body = _completion(batch.params[index], batch.submission(index), created, rng, hooks)
        output.append(_line(rng, prefix, index, batch.custom_ids[index], 200, body))
    errors: list[dict[str, Any]] = []
    for index, error in batch.errored[: outcome.errored_done]:
        status, body = _error_response(error)
        errors.append(_line(rng, prefix, index, batch.custom_ids[index], status, body))
    return BuiltLines(output, errors)


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    """Lines as a JSONL file (a newline after each)."""
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def _completion(
    body: dict[str, Any], submission: int, created: int, rng: random.Random, hooks: ReplyHooks
) -> dict[str, Any]:
    reply = answer(body, submission, "openai", hooks.text, hooks.content)
    texts = [str(block.get("text", "")) for block in reply.content if block.get("type") == "text"]
    calls = [
        {
            "id": base62_token(rng, 9),
            "type": "function",
            "function": {
                "name": block.get("name"),
                "arguments": orjson.dumps(block.get("input", {})).decode(),
            },
            "index": number,
        }
        for number, block in enumerate(b for b in reply.content if b.get("type") == "tool_use")
    ]
    prompt = token_count(input_chars(body))
    completion = reply.output_tokens or token_count(output_chars(reply.content))
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if hooks.usage is not None:
        usage.update(hooks.usage(body))
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {
        "id": hex_token(rng),
        "object": "chat.completion",
        "model": body.get("model"),
        "usage": usage,
        "created": created,
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls" if calls else FINISH_REASONS[reply.stop],
                "message": {
                    "role": "assistant",
                    "content": "".join(texts),
                    "tool_calls": calls or None,
                },
            }
        ],
    }


def _error_response(error: LineError) -> tuple[int, dict[str, Any]]:
    status = error.status or MARKER_STATUS.get(error.error_type, 500)
    message = "Internal server error" if status >= 500 else error.message
    return status, {
        "object": "error",
        "message": message,
        "type": mistral_error_type_for(status),
        "param": error.param,
        "code": error.code,
    }


def _line(
    rng: random.Random, prefix: str, index: int, custom_id: str, status: int, body: Any
) -> dict[str, Any]:
    token = hex_token(rng)
    uuid = f"{token[:8]}-{token[8:12]}-{token[12:16]}-{token[16:20]}-{token[20:]}"
    return {
        "id": f"batch-{prefix}-{index + 1}-{uuid}",
        "custom_id": custom_id,
        "response": {"status_code": status, "body": body},
        "error": None,
    }
