"""xAI's error bodies, request ids and auth.

xAI's reference documents no error body. Its debugging page gives the statuses (400 for an
incorrect key, 401 for a missing one); the body, `{"code": <gRPC status words>, "error":
<message>}`, is the form xAI's REST gateway has been seen to send.
"""

from __future__ import annotations

import orjson

from .._errors import ApiError
from .._ids import IdFactory
from .._wire import Wire, bearer

CODES = {
    400: "Client specified an invalid argument",
    401: "The request does not have valid authentication credentials",
    403: "The caller does not have permission to execute the specified operation",
    404: "Some requested entity was not found",
    409: "The operation was aborted",
    413: "Client specified an invalid argument",
    429: "Some resource has been exhausted",
}
CONSOLE = "https://console.x.ai"


def xai_error(status: int, message: str) -> ApiError:
    """An xAI error: its `code` words follow from the status."""
    return ApiError(status, message, code_for(status))


def code_for(status: int) -> str:
    """The `code` words of an error with this status."""
    if status in CODES:
        return CODES[status]
    return "The service is currently unavailable" if status >= 500 else CODES[400]


class XAIWire(Wire):
    """``{"code", "error"}`` bodies, ``x-request-id`` headers, bearer tokens."""

    name = "xai"
    request_id_header = "x-request-id"

    def error_type_for(self, status: int) -> str:
        return code_for(status)

    def error_body(self, error: ApiError, request_id: str) -> bytes:
        return orjson.dumps({"code": error.error_type, "error": error.message})

    def authorize(self, headers: dict[str, str], api_key: str | None) -> None:
        if api_key is None:
            return
        given = bearer(headers.get("authorization"))
        if not given:
            raise xai_error(
                401,
                "No API key provided: send it in an Authorization header (Bearer). You can "
                f"obtain an API key from {CONSOLE}.",
            )
        if given != api_key:
            raise xai_error(
                400,
                f"Incorrect API key provided: {_masked(given)}. You can obtain an API key "
                f"from {CONSOLE}.",
            )

    def new_request_id(self, ids: IdFactory) -> str:
        return ids.make_hex("")

    def unknown_route(self, method: str, path: str) -> ApiError:
        return xai_error(404, f"No route for {method} {path}")


def _masked(key: str) -> str:
    """A wrong key as the error echoes it: its first 2 and last 4 characters."""
    return key if len(key) <= 8 else f"{key[:2]}***{key[-4:]}"
