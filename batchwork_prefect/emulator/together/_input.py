"""A Together batch input file checked, as while the batch is ``VALIDATING``.

Each line must be ``{"custom_id", "body"}``: a unique ``custom_id`` of at most 64
characters and a body with a ``model`` and ``messages`` (the batch guide's schema). Any
problem fails the whole batch with one ``error`` string naming the first bad line; over
50,000 lines fails it too. Nothing is processed then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

MAX_REQUESTS = 50_000
MAX_CUSTOM_ID = 64


@dataclass
class InputCheck:
    """The requests of a valid file (``(custom_id, body)`` in line order), or its error."""

    entries: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    model: str | None = None
    error: str | None = None


def check_input(content: bytes) -> InputCheck:
    """Check every line of ``content``; see the module docstring."""
    lines = content.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    check = InputCheck()
    if not lines:
        check.error = "The batch input file is empty."
        return check
    if len(lines) > MAX_REQUESTS:
        check.error = (
            f"The batch input file has {len(lines)} requests; the limit is"
            f" {MAX_REQUESTS:,} per batch."
        )
        return check
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        problem = _line_problem(raw, seen, check)
        if problem is not None:
            check.error = f"Line {number}: {problem}"
            check.entries = []
            return check
    return check


def _line_problem(raw: bytes, seen: set[str], check: InputCheck) -> str | None:
    try:
        entry = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "not valid JSON."
    if not isinstance(entry, dict):
        return "not a JSON object."
    custom_id = entry.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return "custom_id is required and must be a string."
    if len(custom_id) > MAX_CUSTOM_ID:
        return f"custom_id is longer than {MAX_CUSTOM_ID} characters."
    if custom_id in seen:
        return f"custom_id {custom_id!r} is not unique."
    body = entry.get("body")
    if not isinstance(body, dict):
        return "body is required and must be an object."
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return "body.model is required."
    if not isinstance(body.get("messages"), list):
        return "body.messages is required and must be an array."
    seen.add(custom_id)
    if check.model is None:
        check.model = model
    check.entries.append((custom_id, body))
    return None
