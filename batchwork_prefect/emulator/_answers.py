"""A succeeded request's answer: a hook's reply or the emulated one (every API)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ._replies import Stop, emulated_reply
from ._structured import ApiName

ReplyFn = Callable[[dict[str, Any]], str]
ContentFn = Callable[[dict[str, Any]], list[dict[str, Any]]]
UsageFn = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Answer:
    """A succeeded reply's content blocks, why it stopped, and its output tokens when they
    are not counted from the content (a reply cut at the request's token limit)."""

    content: list[dict[str, Any]]
    stop: Stop = "end"
    output_tokens: int | None = None


def answer(
    params: dict[str, Any],
    submission: int,
    api: ApiName,
    reply_text: ReplyFn | None,
    reply_content: ContentFn | None,
) -> Answer:
    """A hook's reply (it ends its turn: answer markers are not read), else the emulated
    reply for the ``submission``-th submission."""
    if reply_content is not None:
        return Answer(reply_content(params))
    if reply_text is not None:
        return Answer([{"type": "text", "text": reply_text(params)}])
    reply = emulated_reply(params, submission, api)
    return Answer([{"type": "text", "text": reply.text}], reply.stop, reply.output_tokens)


def output_chars(content: list[dict[str, Any]]) -> int:
    """Characters billed as output: text and thinking, and each tool call's input as JSON."""
    total = 0
    for block in content:
        kind = block.get("type")
        if kind == "text":
            total += len(str(block.get("text", "")))
        elif kind == "thinking":
            total += len(str(block.get("thinking", "")))
        elif kind == "tool_use":
            total += len(orjson.dumps(block.get("input", {})))
    return total
