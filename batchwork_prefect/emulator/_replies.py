"""Reading text out of Messages ``params`` and producing the emulated assistant reply."""

from __future__ import annotations

import math

from ._structured import ApiName, parse_answer_marker, requested_schema, structured_answer

CANNED_REPLIES: dict[str, str] = {
    "Capital of France? One word.": "Paris",
    "Capital of Japan? One word.": "Tokyo",
    "Capital of Italy? One word.": "Rome",
    "Capital of Germany? One word.": "Berlin",
    "Capital of Spain? One word.": "Madrid",
}
REPLY_PREFIX = "Emulated reply to: "


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


def default_reply(
    params: dict[str, object], submission: int = 1, api: ApiName = "anthropic"
) -> str:
    """The plain reply, or, when ``params`` ask for structured output, a JSON document of
    the schema whose strings are the plain reply (shaped by an answer marker that applies
    to the ``submission``-th submission)."""
    plain = plain_reply(params)
    schema = requested_schema(params, api)
    if schema is None:
        return plain
    marker = parse_answer_marker(user_texts(params))
    if marker is not None and not marker.applies(submission):
        marker = None
    return structured_answer(schema, plain, marker)


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
    return max(1, math.ceil(chars / 4))
