"""Per-request outcome planning for OpenAI chat-completion bodies.

A body that passed file validation is checked the way the endpoint itself would check it;
a problem gives a 400 line in the error file. Otherwise the same ``[[emulate:...]]`` markers
as for Anthropic decide (``_outcomes.marker_plan``).
"""

from __future__ import annotations

from .._markers import LineError, Plan, marker_plan
from .._structured import json_kind, response_format_error

TOKEN_LIMIT_FIELDS = ("max_tokens", "max_completion_tokens")


def plan_openai(body: dict[str, object], submission: int = 1) -> Plan:
    """Decide how the ``submission``-th submission of one request will end if processing
    reaches it."""
    error = _body_error(body)
    if error is not None:
        return error
    return marker_plan(body, submission)


def _body_error(body: dict[str, object]) -> LineError | None:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return _bad("invalid_type", "messages", f"expected an array, but got {json_kind(messages)}")
    if not messages:
        return LineError(
            "invalid_request_error",
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got"
            " an empty array instead.",
            validation=True,
            status=400,
            code="empty_array",
            param="messages",
        )
    for name in TOKEN_LIMIT_FIELDS:
        error = _token_limit_error(body, name)
        if error is not None:
            return error
    format_error = response_format_error(body)
    if format_error is not None:
        code, param, message = format_error
        return LineError(
            "invalid_request_error", message, validation=True, status=400, code=code, param=param
        )
    return None


def _token_limit_error(body: dict[str, object], name: str) -> LineError | None:
    if name not in body or body[name] is None:
        return None
    value = body[name]
    if not isinstance(value, int) or isinstance(value, bool):
        return _bad("invalid_type", name, f"expected an integer, but got {json_kind(value)}")
    if value < 1:
        return LineError(
            "invalid_request_error",
            f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got"
            f" {value} instead.",
            validation=True,
            status=400,
            code="integer_below_min_value",
            param=name,
        )
    return None


def _bad(code: str, param: str, detail: str) -> LineError:
    return LineError(
        "invalid_request_error",
        f"Invalid type for '{param}': {detail} instead.",
        validation=True,
        status=400,
        code=code,
        param=param,
    )
