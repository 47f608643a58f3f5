"""Results of an xAI batch: each finished request's chat completion or error message.

A result is ``{batch_request_id, batch_result: {response: {chat_get_completion}}}`` or
``{batch_request_id, batch_result: {error}}``. Requests that never ran (cancelled, still
pending) have none. The completion is the ``/v1/chat/completions`` response body as xAI's
reference shows it (its usage with text, audio, image and cached prompt tokens).
"""

from __future__ import annotations

import random
from typing import Any

from .._answers import ContentFn, ReplyFn, UsageFn, answer, output_chars
from .._ids import hex_token
from .._markers import LineError
from .._replies import input_chars, token_count
from ._batch import Entry


def uuid_like(rng: random.Random) -> str:
    """A seeded id in UUID form (8-4-4-4-12 hex digits), as xAI's ids are."""
    digits = hex_token(rng)
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def result(
    entry: Entry,
    created: int,
    seed: int,
    text: ReplyFn | None,
    content: ContentFn | None,
    usage: UsageFn | None,
) -> dict[str, Any]:
    """The result of a finished request (succeeded or failed)."""
    if isinstance(entry.plan, LineError):
        return {"batch_request_id": entry.custom_id, "batch_result": {"error": entry.plan.message}}
    rng = random.Random(f"{seed}:{entry.custom_id}:{entry.added}:xai-result")
    completion = _completion(entry, created, rng, text, content, usage)
    return {
        "batch_request_id": entry.custom_id,
        "batch_result": {"response": {"chat_get_completion": completion}},
    }


def _completion(
    entry: Entry,
    created: int,
    rng: random.Random,
    text: ReplyFn | None,
    content: ContentFn | None,
    usage_hook: UsageFn | None,
) -> dict[str, Any]:
    body = entry.params
    reply = answer(body, entry.submission, "openai", text, content)
    blocks = reply.content
    texts = [str(block.get("text", "")) for block in blocks if block.get("type") == "text"]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts), "refusal": None}
    if reply.stop == "refusal":
        message["content"], message["refusal"] = None, message["content"]
    prompt = token_count(input_chars(body))
    completion = reply.output_tokens or token_count(output_chars(blocks))
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {
            "text_tokens": prompt,
            "audio_tokens": 0,
            "image_tokens": 0,
            "cached_tokens": 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
        "num_sources_used": 0,
    }
    if usage_hook is not None:
        given = usage_hook(body)
        usage.update(given)
        if "total_tokens" not in given:
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return {
        "id": uuid_like(rng),
        "object": "chat.completion",
        "created": created,
        "model": body.get("model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "length" if reply.stop == "max_tokens" else "stop",
            }
        ],
        "usage": usage,
        "system_fingerprint": "fp_" + hex_token(rng, 10),
    }
