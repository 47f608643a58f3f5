"""Reading text out of Messages ``params`` and producing the emulated assistant reply."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import orjson

from ._structured import ApiName, parse_answer_marker, requested_schema, structured_answer

CANNED_REPLIES: dict[str, str] = {
    "Capital of France? One word.": "Paris",
    "Capital of Japan? One word.": "Tokyo",
    "Capital of Italy? One word.": "Rome",
    "Capital of Germany? One word.": "Berlin",
    "Capital of Spain? One word.": "Madrid",
}
REPLY_PREFIX = "Emulated reply to: "
REFUSAL_TEXT = "I can't help with that."
CHARS_PER_TOKEN = 4
TOKEN_LIMITS: dict[ApiName, tuple[str, ...]] = {
    "anthropic": ("max_tokens",),
    "openai": ("max_completion_tokens", "max_tokens"),
}

Stop = Literal["end", "refusal", "max_tokens"]


@dataclass(frozen=True, slots=True)
class Reply:
    """The emulated reply's text and why it stopped; ``output_tokens`` is the request's
    token limit for a reply cut by it (None: count the text)."""

    text: str
    stop: Stop = "end"
    output_tokens: int | None = None


def content_text(content: object) -> str:
    """Text of a message ``content``: a string, or the ``text`` blocks of a block list."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = [
        block["text"]
        for block in content
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
    ]
    return "\n".join(parts)


def user_texts(params: dict[str, object]) -> list[str]:
    """Texts of every ``role: user`` message, in order."""
    messages = params.get("messages")
    if not isinstance(messages, list):
        return []
    return [
        content_text(message.get("content"))
        for message in messages
        if isinstance(message, dict) and message.get("role") == "user"
    ]


def emulated_reply(
    params: dict[str, object], submission: int = 1, api: ApiName = "anthropic"
) -> Reply:
    """The plain reply, or, when ``params`` ask for structured output, a JSON document of
    the schema whose strings are the plain reply; shaped by an answer marker that applies
    to the ``submission``-th submission (a refusal, a cut at the token limit, or for a
    structured reply an off-schema or non-JSON document)."""
    schema = requested_schema(params, api)
    marker = parse_answer_marker(user_texts(params), structured=schema is not None)
    if marker is not None and not marker.applies(submission):
        marker = None
    if marker is not None and marker.kind == "refusal":
        return Reply(REFUSAL_TEXT, "refusal")
    plain = plain_reply(params)
    text = plain if schema is None else structured_answer(schema, plain, marker)
    if marker is not None and marker.kind == "max_tokens":
        limit = token_limit(params, api)
        return Reply(cut_reply(text, limit, schema is not None), "max_tokens", limit)
    return Reply(text)


def token_limit(params: dict[str, object], api: ApiName) -> int | None:
    """The request's output token limit (OpenAI: ``max_completion_tokens`` first), if any."""
    for name in TOKEN_LIMITS[api]:
        value = params.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def cut_reply(text: str, limit: int | None, structured: bool) -> str:
    """``text`` cut where ``limit`` tokens end (its first ``4 * limit`` characters) when it
    is longer, else to its first half; a structured reply's cut never parses as JSON (only
    a bare number's could: it loses characters until it does not)."""
    keep = len(text) // 2
    if limit is not None and len(text) > CHARS_PER_TOKEN * limit:
        keep = CHARS_PER_TOKEN * limit
    cut = text[:keep]
    while structured and cut and _parses(cut):
        cut = cut[:-1]
    return cut


def _parses(text: str) -> bool:
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return True


def plain_reply(params: dict[str, object]) -> str:
    """Canned answer for a known prompt, else ``Emulated reply to: <first 60 chars>``."""
    texts = user_texts(params)
    last = texts[-1] if texts else ""
    canned = CANNED_REPLIES.get(last.strip())
    if canned is not None:
        return canned
    return REPLY_PREFIX + last[:60]


def input_chars(params: dict[str, object]) -> int:
    """Characters billed as input: the system prompt plus every message's text."""
    total = len(content_text(params.get("system")))
    messages = params.get("messages")
    if isinstance(messages, list):
        total += sum(
            len(content_text(message.get("content")))
            for message in messages
            if isinstance(message, dict)
        )
    return total


def token_count(chars: int) -> int:
    """Emulated tokenizer: ``ceil(chars / 4)``, at least 1."""
    return max(1, math.ceil(chars / CHARS_PER_TOKEN))
