"""Transport-neutral request/response values and the JSON shapes of the API."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

JSON_TYPE = "application/json"
JSONL_TYPE = "application/x-jsonl"

Headers = tuple[tuple[str, str], ...]
Query = dict[str, list[str]]
# the Message Batches API's request limit, applied to every request the server reads
MAX_BODY_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Request:
    """An HTTP request as the handler read it (headers lower-cased)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes = b""
    oversize: bool = False


@dataclass(frozen=True, slots=True)
class Response:
    """What to send back; ``truncate_after`` cuts the body short after that many bytes,
    ``hold_after`` parks the sending thread after that many bytes until released."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: Headers = field(default=())
    truncate_after: int | None = None
    hold_after: int | None = None
    close: bool = False


def json_response(
    status: int, payload: object, headers: tuple[tuple[str, str], ...] = ()
) -> Response:
    """A JSON response."""
    return Response(status, orjson.dumps(payload), JSON_TYPE, headers)
