"""Create-time (synchronous) validation of the ``POST /v1/messages/batches`` envelope.

Only envelope problems are rejected here, with the exact 400 messages of the real API
(fact sheet A.1). Problems inside ``params`` are deferred to ``errored`` result lines
(see ``_outcomes``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import orjson

from .._errors import invalid_request

JSONObject = dict[str, object]

MAX_REQUESTS = 100_000
CUSTOM_ID_PATTERN = "^[a-zA-Z0-9_-]{1,64}$"
_CUSTOM_ID_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")


def parse_json(body: bytes) -> object:
    """Decode a request body or raise the real API's malformed-JSON 400."""
    try:
        decoded: object = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise invalid_request(f"The request body is not valid JSON: {exc}") from None
    return decoded


def validate_create(payload: object) -> list[tuple[str, JSONObject]]:
    """Return ``(custom_id, params)`` pairs or raise the first envelope 400."""
    if not isinstance(payload, dict):
        raise invalid_request("body: Input should be a valid dictionary")
    requests = payload.get("requests")
    if "requests" not in payload:
        raise invalid_request("requests: Field required")
    if not isinstance(requests, list):
        raise invalid_request("requests: Input should be a valid list")
    if not requests:
        raise invalid_request("requests: List should have at least 1 item after validation, not 0")
    if len(requests) > MAX_REQUESTS:
        raise invalid_request(
            f"requests: List should have at most {MAX_REQUESTS} items after validation,"
            f" not {len(requests)}"
        )
    entries = [_validate_entry(index, entry) for index, entry in enumerate(requests)]
    _check_unique(custom_id for custom_id, _ in entries)
    return entries


def _validate_entry(index: int, entry: object) -> tuple[str, JSONObject]:
    where = f"requests.{index}"
    if not isinstance(entry, dict):
        raise invalid_request(f"{where}: Input should be a valid dictionary")
    custom_id = _validate_custom_id(where, entry)
    if "params" not in entry:
        raise invalid_request(f"{where}.params: Field required")
    params = entry["params"]
    if not isinstance(params, dict):
        raise invalid_request(f"{where}.params: Input should be a valid dictionary")
    return custom_id, params


def _validate_custom_id(where: str, entry: JSONObject) -> str:
    if "custom_id" not in entry:
        raise invalid_request(f"{where}.custom_id: Field required")
    custom_id = entry["custom_id"]
    if not isinstance(custom_id, str):
        raise invalid_request(f"{where}.custom_id: Input should be a valid string")
    if not custom_id:
        raise invalid_request(f"{where}.custom_id: String should have at least 1 character")
    if len(custom_id) > 64:
        raise invalid_request(f"{where}.custom_id: String should have at most 64 characters")
    if _CUSTOM_ID_RE.fullmatch(custom_id) is None:
        raise invalid_request(
            f"{where}.custom_id: String should match pattern '{CUSTOM_ID_PATTERN}'"
        )
    return custom_id


def _check_unique(custom_ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for custom_id in custom_ids:
        if custom_id in seen:
            raise invalid_request(
                "requests: custom_id's must be unique within a batch. "
                f"Duplicate custom_id found: {custom_id}"
            )
        seen.add(custom_id)
