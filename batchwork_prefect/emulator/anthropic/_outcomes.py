"""The Message Batches API's per-request plan: deferred ``params`` validation, then markers.

Deferred validation wins over markers (``_markers``).
"""

from __future__ import annotations

from .._markers import LineError, Plan, marker_plan
from .._structured import output_config_error


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
