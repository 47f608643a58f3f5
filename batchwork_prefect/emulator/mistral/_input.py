"""A job's requests read from its input files or inline ``requests``: each
``{custom_id, body}``. Problems fail the job (``FAILED``, its ``errors`` as ``{message,
count}``); nothing is processed then."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

MAX_REQUESTS = 1_000_000


@dataclass
class InputCheck:
    """The requests (``(custom_id, body)`` in order), or the job's errors."""

    entries: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    errors: list[dict[str, object]] = field(default_factory=list)


def file_entries(contents: Iterable[bytes]) -> Iterable[object]:
    """Every line of every input file, decoded (``None`` for a line that is not JSON)."""
    for content in contents:
        for raw in content.split(b"\n"):
            if not raw.strip():
                continue
            try:
                yield orjson.loads(raw)
            except orjson.JSONDecodeError:
                yield None


def check_entries(items: Iterable[object], model: str | None) -> InputCheck:
    """Check each request: an object with a string ``custom_id`` (unique) and an object
    ``body`` with ``messages``, naming a model unless the job does."""
    check = InputCheck()
    problems: dict[str, int] = {}
    seen: set[str] = set()
    for item in items:
        problem = _problem(item, model, seen)
        if problem is not None:
            problems[problem] = problems.get(problem, 0) + 1
            continue
        assert isinstance(item, dict)
        seen.add(item["custom_id"])
        check.entries.append((item["custom_id"], item["body"]))
    total = len(check.entries) + sum(problems.values())
    if total == 0:
        problems["The batch has no requests."] = 1
    elif total > MAX_REQUESTS:
        problems[f"The batch has {total} requests, more than the maximum of {MAX_REQUESTS}."] = 1
    if problems:
        check.entries = []
        check.errors = [{"message": text, "count": count} for text, count in problems.items()]
    return check


def _problem(item: object, model: str | None, seen: set[str]) -> str | None:
    if not isinstance(item, dict):
        return "A request is not a JSON object."
    custom_id, body = item.get("custom_id"), item.get("body")
    if not isinstance(custom_id, str) or not custom_id:
        return "A request has no custom_id."
    if custom_id in seen:
        return "A custom_id is used by more than one request."
    if not isinstance(body, dict):
        return "A request has no body object."
    if not isinstance(body.get("messages"), list):
        return "A request body has no messages."
    if model is None and not isinstance(body.get("model"), str):
        return "A request body names no model and the job names none."
    return None
