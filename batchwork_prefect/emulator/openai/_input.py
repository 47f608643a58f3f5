"""Validation of an OpenAI batch input file, as done while the batch is ``validating``.

Any problem fails the whole batch: ``errors.data`` gets one ``{code, message, param, line}``
per bad line (its first problem; lines are 1-based), or one file-level error (``line: null``)
for an empty or over-long file. Nothing is processed then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from .._structured import json_kind

MAX_TASKS = 50_000
MODEL_PREFIXES = ("gpt-", "chatgpt-", "o1", "o3", "o4", "ft:gpt-")
DUPLICATE_MESSAGE = (
    "The custom_id for this request is a duplicate of another request. The custom_id"
    " parameter must be unique for each individual request in a batch."
)

BatchErrorItem = dict[str, object]


@dataclass
class InputCheck:
    """The requests of a valid file (``(custom_id, body)`` in line order), or its errors."""

    entries: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    model: str | None = None
    errors: list[BatchErrorItem] = field(default_factory=list)


class _LineProblem(Exception):
    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def check_input(content: bytes, endpoint: str) -> InputCheck:
    """Check every line of ``content`` against ``endpoint``; see the module docstring."""
    lines = content.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    check = InputCheck()
    if not lines:
        check.errors.append(_item("empty_file", "The batch input file is empty."))
        return check
    if len(lines) > MAX_TASKS:
        message = (
            f"The batch input file has {len(lines)} requests, more than the maximum of"
            f" {MAX_TASKS:,} per batch."
        )
        check.errors.append(_item("too_many_tasks", message))
        return check
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        try:
            custom_id, body = _check_line(raw, endpoint, check.model, seen)
        except _LineProblem as problem:
            check.errors.append(_item(problem.code, problem.message, problem.param, number))
            continue
        if check.model is None:
            check.model = str(body["model"])
        seen.add(custom_id)
        check.entries.append((custom_id, body))
    if check.errors:
        check.entries = []
    return check


def _check_line(
    raw: bytes, endpoint: str, model: str | None, seen: set[str]
) -> tuple[str, dict[str, object]]:
    try:
        entry = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _LineProblem(
            "invalid_json_line", "This line is not parseable as valid JSON."
        ) from None
    if not isinstance(entry, dict):
        raise _LineProblem("invalid_json_line", "This line is not a JSON object.")
    custom_id = _string(entry, "custom_id", "custom_id")
    method = _string(entry, "method", "method")
    if method != "POST":
        raise _LineProblem(
            "invalid_value", f"Invalid value: '{method}'. Supported values are: 'POST'.", "method"
        )
    url = _string(entry, "url", "url")
    if url != endpoint:
        raise _LineProblem(
            "url_mismatch",
            f"The url '{url}' of this request does not match the batch's endpoint '{endpoint}'.",
            "url",
        )
    body = entry.get("body")
    if body is None:
        raise _missing("body", "body")
    if not isinstance(body, dict):
        raise _wrong_type("body", "an object", body)
    _check_body(body, model)
    if custom_id in seen:
        raise _LineProblem("duplicate_custom_id", DUPLICATE_MESSAGE, "custom_id")
    return custom_id, body


def _check_body(body: dict[str, object], model: str | None) -> None:
    given = _string(body, "model", "body.model")
    if "messages" not in body or body["messages"] is None:
        raise _missing("messages", "body.messages")
    if model is None and not given.startswith(MODEL_PREFIXES):
        raise _LineProblem(
            "model_not_found",
            f"The provided model '{given}' is not supported by the Batch API.",
            "body.model",
        )
    if model is not None and given != model:
        raise _LineProblem(
            "model_mismatch",
            f"The model '{given}' of this request differs from the model '{model}' of the"
            " requests before it; a batch input file may use only one model.",
            "body.model",
        )


def _string(entry: dict[str, object], name: str, param: str) -> str:
    value = entry.get(name)
    if value is None:
        raise _missing(name, param)
    if not isinstance(value, str):
        raise _wrong_type(param, "a string", value)
    return value


def _missing(name: str, param: str) -> _LineProblem:
    return _LineProblem(
        "missing_required_parameter", f"Missing required parameter: '{name}'.", param
    )


def _wrong_type(param: str, expected: str, value: object) -> _LineProblem:
    return _LineProblem(
        "invalid_type",
        f"Invalid type for '{param}': expected {expected}, but got {json_kind(value)} instead.",
        param,
    )


def _item(
    code: str, message: str, param: str | None = None, line: int | None = None
) -> BatchErrorItem:
    return {"code": code, "message": message, "param": param, "line": line}
