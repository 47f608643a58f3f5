"""A small ``multipart/form-data`` reader for file uploads (whole body in memory)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOUNDARY_RE = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_PARAM_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


class MultipartError(ValueError):
    """The body is not well-formed ``multipart/form-data``."""


@dataclass(frozen=True, slots=True)
class Part:
    """One form field: its name, the filename if it is a file, and its bytes."""

    name: str
    filename: str | None
    content: bytes


def boundary_of(content_type: str) -> str | None:
    """The boundary of a ``multipart/form-data`` content type, else ``None``."""
    if not content_type.lower().startswith("multipart/form-data"):
        return None
    found = _BOUNDARY_RE.search(content_type)
    return found.group(1) if found else None


def parse_form(body: bytes, boundary: str) -> dict[str, Part]:
    """The parts of ``body`` by field name (a repeated name keeps its first part)."""
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise MultipartError("missing closing boundary")
    parts: dict[str, Part] = {}
    for chunk in chunks[1:-1]:
        part = _parse_part(chunk)
        parts.setdefault(part.name, part)
    return parts


def _parse_part(chunk: bytes) -> Part:
    if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
        raise MultipartError("malformed part framing")
    head, separator, content = chunk[2:-2].partition(b"\r\n\r\n")
    if not separator:
        raise MultipartError("part without a header block")
    disposition = ""
    for line in head.decode("utf-8", "replace").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-disposition":
            disposition = value
    params = {key.lower(): _unquote(value) for key, value in _PARAM_RE.findall(disposition)}
    if "name" not in params:
        raise MultipartError("part without a name")
    return Part(params["name"], params.get("filename"), content)


def _unquote(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)
