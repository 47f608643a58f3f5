"""Building the JSONL results body of an ended batch (one join, seeded shuffle)."""

from __future__ import annotations

import random
from typing import Any

import orjson

from .._answers import Answer, ContentFn, ReplyFn, UsageFn, answer, output_chars
from .._ids import random_token
from .._markers import LineError
from .._replies import Stop, input_chars, token_count
from .._state import Batch, tally

STOP_REASONS: dict[Stop, str] = {
    "end": "end_turn",
    "refusal": "refusal",
    "max_tokens": "max_tokens",
}
REFUSAL_DETAILS = {"type": "refusal", "category": None, "explanation": None}


def build_results(
    batch: Batch,
    seed: int,
    reply_text: ReplyFn | None,
    *,
    reply_content: ContentFn | None = None,
    reply_usage: UsageFn | None = None,
) -> bytes:
    """Every result line, ``\\n``-terminated, compact JSON, shuffled by ``seed``."""
    # by the batch's requests, not its id: an unseeded emulator's ids are its own
    rng = random.Random(f"{seed}:{','.join(batch.custom_ids)}:results")
    outcome = tally(batch)
    leftover = "canceled" if outcome.kind == "cancel" else "expired"

    lines: list[bytes] = []
    for index in batch.succeeded[: outcome.succeeded_done]:
        reply = answer(
            batch.params[index], batch.submission(index), "anthropic", reply_text, reply_content
        )
        lines.append(_succeeded(batch, index, rng, reply, reply_usage))
    for index, error in batch.errored[: outcome.errored_done]:
        lines.append(_errored(batch.custom_ids[index], error, rng))
    undone = batch.succeeded[outcome.succeeded_done :] + [
        index for index, _ in batch.errored[outcome.errored_done :]
    ]
    lines.extend(_bare(batch.custom_ids[index], leftover) for index in undone)
    lines.extend(_bare(batch.custom_ids[index], "canceled") for index in batch.marked_canceled)
    lines.extend(_bare(batch.custom_ids[index], leftover) for index in batch.marked_expired)
    rng.shuffle(lines)
    lines.append(b"")
    return b"\n".join(lines)


def _succeeded(
    batch: Batch,
    index: int,
    rng: random.Random,
    reply: Answer,
    reply_usage: UsageFn | None,
) -> bytes:
    params = batch.params[index]
    content = reply.content
    output_tokens = reply.output_tokens or token_count(output_chars(content))
    model = params.get("model")
    usage: dict[str, Any] = {
        "input_tokens": token_count(input_chars(params)),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens,
        "service_tier": "batch",
        "inference_geo": "not_available",
    }
    if reply_usage is not None:
        given = reply_usage(params)
        usage.update(given)
        if "cache_creation_input_tokens" in given and "cache_creation" not in given:
            usage["cache_creation"] = {
                "ephemeral_5m_input_tokens": given["cache_creation_input_tokens"],
                "ephemeral_1h_input_tokens": 0,
            }
    tool_use = any(block.get("type") == "tool_use" for block in content)
    message: dict[str, Any] = {
        "id": "msg_" + random_token(rng),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if tool_use else STOP_REASONS[reply.stop],
        "stop_sequence": None,
        "usage": usage,
    }
    if reply.stop == "refusal":
        message["stop_details"] = dict(REFUSAL_DETAILS)
    result = {"type": "succeeded", "message": message}
    return _line({"custom_id": batch.custom_ids[index], "result": result})


def _errored(custom_id: str, error: LineError, rng: random.Random) -> bytes:
    inner: dict[str, object] = {}
    if error.validation:
        inner["details"] = {"error_visibility": "user_facing"}
    inner["type"] = error.error_type
    inner["message"] = error.message
    request_id = None if error.validation else "req_" + random_token(rng)
    wrapped = {"type": "error", "error": inner, "request_id": request_id}
    return _line({"custom_id": custom_id, "result": {"type": "errored", "error": wrapped}})


def _bare(custom_id: str, kind: str) -> bytes:
    return _line({"custom_id": custom_id, "result": {"type": kind}})


def _line(entry: dict[str, Any]) -> bytes:
    """One compact JSON line, copied to its exact size: orjson's output keeps its working
    buffer (4 KiB and up), and every line of a batch is held until they are joined."""
    return bytes(memoryview(orjson.dumps(entry)))
