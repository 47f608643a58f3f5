"""The text form of a ``Fault`` (``ROUTE[:STATUS][:TIMES][:OPTION]...``), as the
``batchwork-prefect emulator --fault`` option takes it."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from ._faults import Fault
from ._table import CREATE_ROUTES, ROUTE_ORDER

FAULT_SYNTAX = "ROUTE[:STATUS][:TIMES][:OPTION]..."
"""The shape of a fault's text."""


def _non_negative(convert: Callable[[str], float]) -> Callable[[str], float]:
    """`convert`, refusing negative, infinite and NaN numbers."""

    def checked(value: str) -> float:
        number = convert(value)
        if not (math.isfinite(number) and number >= 0):
            raise ValueError(value)
        return number

    return checked


def _boolean(value: str) -> bool:
    """true/yes/1 or false/no/0."""
    if value.lower() in ("true", "yes", "1"):
        return True
    if value.lower() in ("false", "no", "0"):
        return False
    raise ValueError(value)


_FAULT_OPTIONS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "retry-after": ("retry_after", _non_negative(float)),
    "retry-after-ms": ("retry_after_ms", _non_negative(float)),
    "should-retry": ("should_retry", _boolean),
    "truncate-after": ("truncate_after_bytes", _non_negative(int)),
}


def parse_fault(text: str) -> Fault:
    """The ``Fault`` that ``text`` stands for; ``ValueError`` naming the problem and the
    expected shape if it is malformed."""
    try:
        return Fault(**_fault_fields(text))
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc} (expected {FAULT_SYNTAX})") from None


def _fault_fields(text: str) -> dict[str, Any]:
    head, has_body, body = text.partition(":body=")
    route, *tokens = head.split(":")
    if route not in ROUTE_ORDER:
        raise ValueError(f"unknown route {route!r}; choose one of {', '.join(ROUTE_ORDER)}")
    fields: dict[str, Any] = {"route": route}
    if has_body:
        fields["body"] = body.encode()
    numbers: list[int] = []
    for token in tokens:
        option, has_value, value = token.partition("=")
        if not has_value:
            if token == "after-create":
                fields["after_create"] = True
            elif re.fullmatch("[0-9]+", token) and len(numbers) < 2:
                numbers.append(int(token))
            else:
                raise ValueError(f"{token!r} is neither STATUS, TIMES nor an OPTION")
        elif option not in _FAULT_OPTIONS:
            choices = ", ".join(_FAULT_OPTIONS)
            raise ValueError(f"unknown option {option!r}; choose one of {choices}")
        else:
            field, convert = _FAULT_OPTIONS[option]
            try:
                fields[field] = convert(value)
            except ValueError:
                raise ValueError(f"{option}={value!r} is not valid") from None
    if numbers:
        fields["status"] = numbers[0]
    if len(numbers) == 2:
        fields["times"] = numbers[1]
    return _checked_fault_fields(fields)


def _checked_fault_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` once they make sense together (said in the text's words)."""
    if not 100 <= fields.get("status", 500) <= 599:
        raise ValueError("STATUS must be an HTTP status code (100-599)")
    if fields.get("times", 1) < 1:
        raise ValueError("TIMES must be at least 1")
    creates = [route for route in ROUTE_ORDER if route in CREATE_ROUTES]
    if fields.get("after_create") and fields["route"] not in creates:
        raise ValueError(f"after-create only applies to the routes {', '.join(creates)}")
    if "truncate_after_bytes" in fields:
        if fields.pop("status", 200) != 200:
            raise ValueError("truncate-after sends the real response: leave out STATUS or give 200")
        shaped = {"retry_after", "retry_after_ms", "should_retry", "body", "after_create"}
        if shaped & fields.keys():
            raise ValueError(
                "truncate-after cannot be combined with retry headers, body or after-create"
            )
    return fields
