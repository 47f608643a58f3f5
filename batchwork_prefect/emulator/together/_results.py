"""An ended Together batch's output and error files (compact JSONL, seeded order).

Succeeded requests go to the output file as ``{custom_id, response: {status_code: 200,
body: chat completion}}``; errored ones to the error file as ``{custom_id, error:
{message, code}}``. Requests a cancel or the 24 h window left undone appear in neither.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import orjson

from .._answers import ContentFn, ReplyFn, UsageFn, answer, output_chars
from .._ids import base62_token
from .._replies import input_chars, token_count
from .._state import Batch, tally


@dataclass(frozen=True, slots=True)
class BuiltFiles:
    """The two files' bytes (either may be empty)."""

    output: bytes
    errors: bytes


@dataclass(frozen=True, slots=True)
class ReplyHooks:
    """The emulator's reply callables (``Settings.reply_*``)."""

    text: ReplyFn | None
    content: ContentFn | None
    usage: UsageFn | None


def build_files(batch: Batch, created: int, seed: int, hooks: ReplyHooks) -> BuiltFiles:
    """Both files of an ended batch; ``created`` stamps the completions."""
    rng = random.Random(f"{seed}:{','.join(batch.custom_ids)}:together-results")
    outcome = tally(batch)
    output = [
        _line(
            batch.custom_ids[index],
            {
                "status_code": 200,
                "body": _completion(
                    batch.params[index], batch.submission(index), created, rng, hooks
                ),
            },
            None,
        )
        for index in batch.succeeded[: outcome.succeeded_done]
    ]
    errors = [
        _line(
            batch.custom_ids[index],
            None,
            {"message": error.message, "code": error.code or error.error_type},
        )
        for index, error in batch.errored[: outcome.errored_done]
    ]
    rng.shuffle(output)
    rng.shuffle(errors)
    return BuiltFiles(_join(output), _join(errors))


def _completion(
    body: dict[str, Any], submission: int, created: int, rng: random.Random, hooks: ReplyHooks
) -> dict[str, Any]:
    reply = answer(body, submission, "openai", hooks.text, hooks.content)
    texts = [str(block.get("text", "")) for block in reply.content if block.get("type") == "text"]
    calls = [
        {
            "id": "call_" + base62_token(rng, 24),
            "type": "function",
            "function": {
                "name": block.get("name"),
                "arguments": orjson.dumps(block.get("input", {})).decode(),
            },
        }
        for block in reply.content
        if block.get("type") == "tool_use"
    ]
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not calls else None,
    }
    if calls:
        message["tool_calls"] = calls
    finish = "tool_calls" if calls else "length" if reply.stop == "max_tokens" else "stop"
    prompt = token_count(input_chars(body))
    completion = reply.output_tokens or token_count(output_chars(reply.content))
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cached_tokens": 0,
    }
    if hooks.usage is not None:
        usage.update(hooks.usage(body))
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {
        "id": base62_token(rng, 16) + "-" + base62_token(rng, 6),
        "object": "chat.completion",
        "created": created,
        "model": body.get("model"),
        "prompt": [],
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage,
    }


def _line(
    custom_id: str, response: dict[str, Any] | None, error: dict[str, object] | None
) -> bytes:
    entry: dict[str, object] = {"custom_id": custom_id}
    if response is not None:
        entry["response"] = response
    if error is not None:
        entry["error"] = error
    return bytes(memoryview(orjson.dumps(entry)))


def _join(lines: list[bytes]) -> bytes:
    if not lines:
        return b""
    lines.append(b"")
    return b"\n".join(lines)
