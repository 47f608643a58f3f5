"""Together's error bodies, request ids and auth."""

from __future__ import annotations

import orjson

from .._errors import ApiError
from .._ids import IdFactory
from .._wire import Wire, bearer

MISSING_KEY = (
    "Unauthorized. Provide your API key in an Authorization header using Bearer auth"
    " (Authorization: Bearer YOUR_KEY)."
)
INVALID_KEY = "Invalid API key provided. You can find your API key at https://api.together.ai/settings/api-keys."


def error_type_for(status: int) -> str:
    """``error.type`` for an HTTP status: ``server_error`` for 5xx, ``rate_limit_exceeded``
    for 429, ``invalid_request_error`` otherwise."""
    if status >= 500:
        return "server_error"
    return "rate_limit_exceeded" if status == 429 else "invalid_request_error"


def together_error(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> ApiError:
    """An error in Together's ``ErrorData`` shape."""
    return ApiError(status, message, error_type_for(status), code=code, param=param)


class TogetherWire(Wire):
    """``{"error": {message, type, param, code}}`` bodies (the API reference's
    ``ErrorData``), ``x-request-id`` headers, bearer tokens."""

    name = "together"
    request_id_header = "x-request-id"

    def error_type_for(self, status: int) -> str:
        return error_type_for(status)

    def error_body(self, error: ApiError, request_id: str) -> bytes:
        inner = {
            "message": error.message,
            "type": error.error_type,
            "param": error.param,
            "code": error.code,
        }
        return orjson.dumps({"error": inner})

    def authorize(self, headers: dict[str, str], api_key: str | None) -> None:
        if api_key is None:
            return
        given = bearer(headers.get("authorization"))
        if not given:
            raise ApiError(401, MISSING_KEY, "invalid_request_error")
        if given != api_key:
            raise ApiError(401, INVALID_KEY, "invalid_request_error", code="invalid_api_key")

    def new_request_id(self, ids: IdFactory) -> str:
        return ids.make_hex("")

    def unknown_route(self, method: str, path: str) -> ApiError:
        return ApiError(404, f"Not found: {method} {path}", "invalid_request_error")
