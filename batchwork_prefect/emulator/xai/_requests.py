"""What xAI checks when requests are added: the body's shape, each request's, its id.

An add-requests body is ``{"batch_requests": [{"batch_request_id"?, "batch_request":
{"chat_get_completion": {...}}}]}``. A malformed body, an entry of another kind, or an id
already in the batch (or twice in the call) refuses the whole call: nothing is added. A
request whose chat body xAI would refuse is added and fails when it runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from .._markers import LineError, Plan, marker_plan
from .._structured import json_kind, response_format_error
from ._wire import xai_error

MAX_ADD_BYTES = 25_000_000
"""The most one add-requests call may carry (xAI: 25 MB)."""


@dataclass(frozen=True, slots=True)
class Added:
    """One entry of an add call: its id (None: xAI makes one) and its chat body."""

    custom_id: str | None
    params: dict[str, object]


def check_add(body: bytes, held: dict[str, int]) -> list[Added]:
    """The entries of an add-requests body; a malformed one raises xAI's 400."""
    if len(body) > MAX_ADD_BYTES:
        raise xai_error(413, f"The request body is {len(body)} bytes; at most 25MB is accepted.")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise xai_error(400, "The request body is not valid JSON.") from None
    entries = payload.get("batch_requests") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise xai_error(400, "batch_requests: expected an array of batch requests.")
    added: list[Added] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        where = f"batch_requests[{index}]"
        if not isinstance(entry, dict):
            raise xai_error(400, f"{where}: expected an object.")
        custom_id = entry.get("batch_request_id")
        if custom_id is not None and (not isinstance(custom_id, str) or not custom_id):
            raise xai_error(400, f"{where}.batch_request_id: expected a non-empty string.")
        if custom_id is not None and (custom_id in held or custom_id in seen):
            raise xai_error(
                400, f"{where}.batch_request_id {custom_id!r} is not unique within the batch."
            )
        request = entry.get("batch_request")
        chat = request.get("chat_get_completion") if isinstance(request, dict) else None
        if not isinstance(chat, dict):
            raise xai_error(
                400, f"{where}.batch_request: expected an object with chat_get_completion."
            )
        if custom_id is not None:
            seen.add(custom_id)
        added.append(Added(custom_id, chat))
    return added


def plan_chat(body: dict[str, object], submission: int = 1) -> Plan:
    """How the ``submission``-th submission of one chat request ends when it runs."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _failed("model: a model name is required.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _failed(f"messages: expected a non-empty array, got {json_kind(messages)}.")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return _failed(f"{name}: expected an integer, got {json_kind(value)}.")
        if isinstance(value, int) and value < 1:
            return _failed(f"{name}: must be at least 1, got {value}.")
    if body.get("tools") is not None:
        return _failed("tools: function calling is not supported in batch requests.")
    problem = response_format_error(body)
    if problem is not None:
        return _failed(problem[2])
    return marker_plan(body, submission)


def _failed(message: str) -> LineError:
    return LineError("invalid_argument", message, validation=True, status=400)
