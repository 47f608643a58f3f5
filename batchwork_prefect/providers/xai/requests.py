"""xAI's batch requests: a Chat Completions body under `chat_get_completion`, encoded.

xAI's `chat_get_completion` is the body of its OpenAI-compatible `/v1/chat/completions`,
so the fields map as OpenAI's do (`providers.openai.requests`). What xAI's batches cannot
take is refused first, with xAI's reason: function calling and server-side tools are not
supported in batch requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from batchwork_prefect.models import BatchRequest
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers.openai import requests as chat
from batchwork_prefect.providers.xai.batches import CHUNK_BYTES

MAX_STOP = 4
"""xAI takes up to 4 stop sequences."""

ENVELOPE = b'{"batch_requests":[]}'
"""The add-requests body around its entries (plus one comma between two)."""

MAX_ENTRY_BYTES = CHUNK_BYTES - len(ENVELOPE)
"""The largest one encoded request may be: alone, it must fit one add-requests call."""

_NO_TOOLS = (
    "xAI's Batch API does not support function calling (client-side tools) in batch "
    "requests; send requests with tools through the real-time API, or drop them"
)
_NO_SERVER_TOOLS = (
    "xAI's Batch API does not support server-side tools (web search, live search) in "
    "batch requests; drop it"
)

UNSUPPORTED = {
    "tools": _NO_TOOLS,
    "tool_choice": _NO_TOOLS,
    "parallel_tool_calls": _NO_TOOLS,
    "search_parameters": _NO_SERVER_TOOLS,
    "web_search_options": _NO_SERVER_TOOLS,
    "top_k": "xAI has no top_k; remove it (top_p is nucleus sampling)",
    "thinking": "xAI has no thinking option; for reasoning models pass "
    "params={'reasoning_effort': 'low' | 'high'}",
    "deferred": "a batch request cannot be deferred; remove it",
}
"""Fields an xAI batch request cannot carry, with the fix: refused before anything is sent."""


def output_fields(output: OutputType) -> dict[str, Any]:
    """`response_format` asking for answers of `output`: a strict JSON schema, as for
    OpenAI (xAI's Chat Completions takes OpenAI's `json_schema` form)."""
    return chat.output_fields(output)


def request_params(
    model: str,
    request: BatchRequest,
    defaults: Mapping[str, Any],
    output: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `chat_get_completion` body for one request: OpenAI's mapping (`system` a
    leading system message, `max_tokens` as `max_completion_tokens`, `stop_sequences` as
    `stop`, `params` passed through), after refusing what xAI's batches cannot take."""
    problems = [f"defaults.{name}: {UNSUPPORTED[name]}" for name in defaults if name in UNSUPPORTED]
    problems += [
        f"params.{name}: {UNSUPPORTED[name]}" for name in request.params if name in UNSUPPORTED
    ]
    given = request.model_fields_set
    for name in ("tools", "tool_choice", "top_k"):
        if name in given and getattr(request, name) is not None:
            problems.append(f"{name}: {UNSUPPORTED[name]}")
    stops = request.stop_sequences or defaults.get("stop_sequences") or ()
    if len(stops) > MAX_STOP:
        problems.append(f"stop_sequences: xAI takes at most {MAX_STOP}, not {len(stops)}")
    if problems:
        raise ValueError("; ".join(problems))
    return chat.request_params(model, request, defaults, output)


def encode_request(custom_id: str, params: Mapping[str, Any]) -> bytes:
    """One entry of an add-requests body: `{"batch_request_id", "batch_request":
    {"chat_get_completion": body}}`. One too large for a call of its own is refused."""
    entry = {"batch_request_id": custom_id, "batch_request": {"chat_get_completion": params}}
    encoded = bytes(memoryview(orjson.dumps(entry)))
    if len(encoded) > MAX_ENTRY_BYTES:
        raise ValueError(
            f"request {custom_id!r} encodes to {len(encoded)} bytes; one xAI add-requests "
            f"call carries at most {CHUNK_BYTES} bytes: shorten it"
        )
    return encoded


def chunks(encoded: list[bytes] | tuple[bytes, ...], limit: int = CHUNK_BYTES) -> list[range]:
    """The add-requests calls a batch's entries take, in order: each body (entries joined
    by commas in `ENVELOPE`) at most `limit` bytes. Pure."""
    found: list[range] = []
    start, size = 0, len(ENVELOPE)
    for index, entry in enumerate(encoded):
        grown = size + len(entry) + (1 if index > start else 0)
        if grown > limit and index > start:
            found.append(range(start, index))
            start, grown = index, len(ENVELOPE) + len(entry)
        if grown > limit:
            raise ValueError(f"entry {index} alone is over the {limit}-byte add-requests limit")
        size = grown
    if start < len(encoded):
        found.append(range(start, len(encoded)))
    return found


def add_body(entries: list[bytes] | tuple[bytes, ...]) -> bytes:
    """The add-requests body of already encoded entries (never decoded again)."""
    return b'{"batch_requests":[' + b",".join(entries) + b"]}"


def add_wait(sent: list[float], now: float, *, calls: int, window: float) -> float:
    """Seconds to wait before the next add-requests call so that at most `calls` fall in
    any `window` seconds, given the times of the calls `sent` so far (oldest first). Pure."""
    recent = [moment for moment in sent if now - moment < window]
    if len(recent) < calls:
        return 0.0
    return recent[-calls] + window - now


def entry_id(entry: bytes) -> str:
    """The `batch_request_id` of an entry `encode_request` made."""
    custom_id = orjson.loads(entry).get("batch_request_id")
    if not isinstance(custom_id, str):
        raise ValueError("an encoded xAI request without its batch_request_id")
    return custom_id
