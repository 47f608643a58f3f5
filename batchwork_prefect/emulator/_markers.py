"""``[[emulate:...]]`` prompt markers and the plan of one request (every API).

Each request is classified once, at create time, as ``succeeded``, an ``errored`` line
(a ``LineError``), or forced ``canceled``/``expired`` by a marker. The first marker found in
the user messages wins over later ones.

A marker may end in a count, ``:x<N>`` (``N`` a positive decimal without leading zeros):
its outcome then holds for the first ``N`` submissions of the ``custom_id`` only. Text
that does not fit the grammar is not a marker (it is plain prompt text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, cast

from ._replies import user_texts

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
