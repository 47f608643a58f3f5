"""Per-request outcome planning: deferred ``params`` validation and ``[[emulate:...]]`` markers.

Each request is classified once, at create time, as ``succeeded``, an ``errored`` line
(a ``LineError``), or forced ``canceled``/``expired`` by a marker. Deferred validation
wins over markers; the first marker found in the user messages wins over later ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ._replies import user_texts

_MARKER_RE = re.compile(r"\[\[emulate:(errored|expired|canceled)(?::([a-z_]+))?\]\]")

Forced = Literal["canceled", "expired"]


@dataclass(frozen=True, slots=True)
class LineError:
    """Inner error of an ``errored`` result line.

    ``validation`` errors carry ``details.error_visibility`` and ``request_id: null`` (as
    captured from the real API); emulated runtime errors get a ``req_...`` request id.
    ``status``, ``code`` and ``param`` are used by the OpenAI error lines only.
    """

    error_type: str
    message: str
    validation: bool
    status: int | None = None
    code: str | None = None
    param: str | None = None


Plan = Literal["succeeded", "canceled", "expired"] | LineError


def plan_request(params: dict[str, object]) -> Plan:
    """Decide how one request will end if processing reaches it."""
    error = _deferred_error(params)
    if error is not None:
        return error
    return marker_plan(params)


def _deferred_error(params: dict[str, object]) -> LineError | None:
    model = params.get("model")
    if "model" not in params:
        return _invalid("model: Field required")
    if not isinstance(model, str):
        return _invalid("model: Input should be a valid string")
    messages = params.get("messages")
    if not messages:
        return _invalid("messages: Field required")
    if not isinstance(messages, list):
        return _invalid("messages: Input should be a valid list")
    max_tokens_error = _max_tokens_error(params)
    if max_tokens_error is not None:
        return max_tokens_error
    if params.get("stream") is True:
        return _invalid('"stream=True" is not supported in the Message Batches API')
    if not model.startswith("claude"):
        return LineError("not_found_error", f"model: {model}", validation=True)
    return None


def _max_tokens_error(params: dict[str, object]) -> LineError | None:
    if "max_tokens" not in params:
        return _invalid("max_tokens: Field required")
    max_tokens = params["max_tokens"]
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
        return _invalid("max_tokens: Input should be a valid integer")
    if max_tokens < 1:
        return _invalid("max_tokens: Input should be greater than or equal to 1")
    return None


def _invalid(message: str) -> LineError:
    return LineError("invalid_request_error", message, validation=True)


def marker_plan(params: dict[str, object]) -> Plan:
    """The outcome forced by the first ``[[emulate:...]]`` marker, else ``succeeded``."""
    for text in user_texts(params):
        match = _MARKER_RE.search(text)
        if match is None:
            continue
        kind = match.group(1)
        if kind == "errored":
            error_type = match.group(2) or "api_error"
            return LineError(error_type, f"Emulated {error_type} for this request.", False)
        return "canceled" if kind == "canceled" else "expired"
    return "succeeded"
