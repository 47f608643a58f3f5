"""Checks of a ``batchGenerateContent`` body and of an input JSONL file.

What the API refuses at once is a Google-shaped 400/404 (``ApiError``): no ``batch``, no
``inputConfig``, both or neither of ``requests`` and ``fileName``, an inline request
without ``contents``, a body past the 20 MB inline limit, an empty file. A file line that
is not a ``{"key", "request"}`` JSON object, or whose request has no ``contents``, fails
alone: its response line is an ``INVALID_ARGUMENT`` error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from .._errors import ApiError
from ._params import field
from ._wire import google_error

INLINE_LIMIT_BYTES = 20 * 1024 * 1024
MODEL_RE = re.compile(r"gemini-[a-z0-9][a-z0-9.-]*")
# a file line's own problem travels in its request under this key (never a wire field)
LINE_ERROR = "\0line_error"
NO_CONTENTS = "* GenerateContentRequest.contents: contents is not specified\n"


@dataclass(frozen=True, slots=True)
class CreateBody:
    """A checked create: the display name and either the inline entries or a file name."""

    display_name: str
    entries: list[tuple[str, dict[str, Any]]]
    """``(key, GenerateContentRequest)`` of inline requests, in order."""
    inline_metadata: list[dict[str, Any] | None]
    file_name: str | None


def check_model(model: str) -> str:
    """``models/<id>`` for a known-looking Gemini model id, else the API's 404."""
    if MODEL_RE.fullmatch(model) is None:
        raise google_error(
            404,
            f"models/{model} is not found for API version v1beta, or is not supported for"
            " batchGenerateContent. Call ListModels to see the list of available models and"
            " their supported methods.",
        )
    return f"models/{model}"


def check_create(body: bytes) -> CreateBody:
    """The create body's parts (see the module docstring)."""
    if len(body) > INLINE_LIMIT_BYTES:
        raise google_error(
            400, f"Request payload size exceeds the limit: {INLINE_LIMIT_BYTES} bytes."
        )
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise google_error(400, "Invalid JSON payload received.") from None
    batch = payload.get("batch") if isinstance(payload, dict) else None
    if not isinstance(batch, dict):
        raise google_error(400, "* BatchGenerateContentRequest.batch: batch is not specified\n")
    display = field(batch, "displayName")
    config = field(batch, "inputConfig")
    if not isinstance(config, dict):
        raise _field("inputConfig", "input_config is not specified")
    requests = config.get("requests")
    file_name = field(config, "fileName")
    if (requests is None) == (file_name is None):
        raise _field("inputConfig", "exactly one of requests and file_name must be set")
    if file_name is not None:
        if not isinstance(file_name, str) or not file_name.startswith("files/"):
            raise _field("inputConfig.fileName", "must be of the form files/{file}")
        return CreateBody(str(display or ""), [], [], file_name)
    items = requests.get("requests") if isinstance(requests, dict) else None
    if not isinstance(items, list) or not items:
        raise _field("inputConfig.requests.requests", "requests is not specified")
    entries: list[tuple[str, dict[str, Any]]] = []
    metadata: list[dict[str, Any] | None] = []
    for index, item in enumerate(items):
        request = item.get("request") if isinstance(item, dict) else None
        if not isinstance(request, dict) or not request.get("contents"):
            raise _field(
                f"inputConfig.requests.requests[{index}].request.contents",
                "contents is not specified",
            )
        meta = item.get("metadata")
        meta = meta if isinstance(meta, dict) else None
        key = meta.get("key") if meta is not None else None
        entries.append((str(key) if key is not None else str(index), request))
        metadata.append(meta)
    return CreateBody(str(display or ""), entries, metadata, None)


def read_lines(content: bytes) -> list[tuple[str, dict[str, Any]]]:
    """``(key, request)`` of each line of an input file; a bad line's request carries its
    error under ``LINE_ERROR``. An empty file is a 400."""
    lines = [line for line in content.split(b"\n") if line.strip()]
    if not lines:
        raise google_error(400, "The batch input file is empty.")
    return [_line(raw, number) for number, raw in enumerate(lines, start=1)]


def _line(raw: bytes, number: int) -> tuple[str, dict[str, Any]]:
    try:
        entry = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return str(number), {LINE_ERROR: f"Line {number} is not valid JSON."}
    if not isinstance(entry, dict):
        return str(number), {LINE_ERROR: f"Line {number} is not a JSON object."}
    key = entry.get("key")
    key_text = str(key) if key is not None else str(number)
    request = entry.get("request")
    if not isinstance(request, dict):
        return key_text, {LINE_ERROR: f"Line {number} has no request object."}
    if not request.get("contents"):
        return key_text, {LINE_ERROR: NO_CONTENTS}
    return key_text, request


def _field(path: str, detail: str) -> ApiError:
    return google_error(400, f"* BatchGenerateContentRequest.batch.{path}: {detail}\n")
