"""API error exception and the HTTP status -> error type mappings of Anthropic and OpenAI
(the newer APIs keep theirs in their own ``_wire.py``)."""

from __future__ import annotations

_TYPE_BY_STATUS: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

_DEFAULT_MESSAGE: dict[int, str] = {
    408: "Request timed out.",
    409: "Conflict.",
    413: "Request exceeds the maximum allowed number of bytes.",
    429: "Number of requests has exceeded your rate limit.",
    500: "Internal server error",
    504: "Gateway timeout.",
    529: "Overloaded",
}


def error_type_for(status: int) -> str:
    """Anthropic ``error.type`` for an HTTP status (unlisted 4xx/5xx fall back sensibly)."""
    if status in _TYPE_BY_STATUS:
        return _TYPE_BY_STATUS[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def openai_error_type_for(status: int) -> str:
    """OpenAI ``error.type`` for an HTTP status: ``server_error`` for 5xx, ``requests`` for
    429, else ``invalid_request_error``."""
    if status >= 500:
        return "server_error"
    return "requests" if status == 429 else "invalid_request_error"


def openai_error(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> ApiError:
    """An OpenAI-style error (its type from ``openai_error_type_for``)."""
    return ApiError(status, message, openai_error_type_for(status), code=code, param=param)


def default_message_for(status: int) -> str:
    """A plausible human message for an injected fault with this status."""
    return _DEFAULT_MESSAGE.get(status, f"Emulated fault (HTTP {status}).")


class ApiError(Exception):
    """Raised by route handlers; rendered as the standard JSON error body of the route's API.

    ``code`` and ``param`` appear in OpenAI error bodies only.
    """

    def __init__(
        self,
        status: int,
        message: str,
        error_type: str | None = None,
        *,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type or error_type_for(status)
        self.code = code
        self.param = param


def not_found(message: str) -> ApiError:
    """404 ``not_found_error``."""
    return ApiError(404, message)


def invalid_request(message: str) -> ApiError:
    """400 ``invalid_request_error``."""
    return ApiError(400, message)
