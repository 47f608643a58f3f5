"""Per-request outcome planning: deferred ``params`` validation and ``[[emulate:...]]`` markers.

Each request is classified once, at create time, as ``succeeded``, an ``errored`` line
(a ``LineError``), or forced ``canceled``/``expired`` by a marker. Deferred validation
wins over markers; the first marker found in the user messages wins over later ones.

A marker may end in a count, ``:x<N>`` (``N`` a positive decimal without leading zeros):
its outcome then holds for the first ``N`` submissions of the ``custom_id`` only. Text
that does not fit the grammar is not a marker (it is plain prompt text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

from ._replies import user_texts
from ._structured import output_config_error

# Error types are letters and underscores only, so a count (``x`` then digits) cannot be one.
_MARKER_RE = re.compile(
    r"\[\[emulate:(errored|expired|canceled)(?::([a-z_]+))?(?::x([1-9][0-9]*))?\]\]"
)
DEFAULT_ERROR_TYPE = "api_error"

Forced = Literal["canceled", "expired"]
MarkerKind = Literal["errored", "expired", "canceled"]


@dataclass(frozen=True, slots=True)
class Marker:
    """One parsed ``[[emulate:...]]`` marker; ``times`` None means every submission."""

    kind: MarkerKind
    error_type: str | None = None
    times: int | None = None

    def applies(self, submission: int) -> bool:
        """Whether the marker decides the ``submission``-th (1-based) submission."""
        return self.times is None or submission <= self.times


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


def plan_request(params: dict[str, object], submission: int = 1) -> Plan:
    """Decide how the ``submission``-th submission of one request will end if processing
    reaches it."""
    error = _deferred_error(params)
    if error is not None:
        return error
    return marker_plan(params, submission)


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
    format_error = output_config_error(params)
    if format_error is not None:
        return _invalid(format_error)
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


def parse_marker(text: str) -> Marker | None:
    """The first well-formed marker in ``text``, if any."""
    match = _MARKER_RE.search(text)
    if match is None:
        return None
    kind = cast(MarkerKind, match.group(1))
    count = match.group(3)
    return Marker(kind, match.group(2), None if count is None else int(count))


def find_marker(params: dict[str, object]) -> Marker | None:
    """The first marker in the user messages of ``params``, if any."""
    for text in user_texts(params):
        marker = parse_marker(text)
        if marker is not None:
            return marker
    return None


def marker_plan(params: dict[str, object], submission: int = 1) -> Plan:
    """The outcome the first marker forces on the ``submission``-th submission, else
    ``succeeded`` (also once a counted marker's submissions are used up)."""
    marker = find_marker(params)
    if marker is None or not marker.applies(submission):
        return "succeeded"
    if marker.kind == "errored":
        error_type = marker.error_type or DEFAULT_ERROR_TYPE
        return LineError(error_type, f"Emulated {error_type} for this request.", False)
    return marker.kind
