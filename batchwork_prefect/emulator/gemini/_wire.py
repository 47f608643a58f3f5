"""Google's error bodies (``{"error": {code, message, status}}``) and API-key auth."""

from __future__ import annotations

import orjson

from .._errors import ApiError
from .._ids import IdFactory
from .._wire import Wire

# google.rpc.Code names by HTTP status, as Google's JSON errors carry them
STATUS_BY_HTTP: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
INVALID_KEY = "API key not valid. Please pass a valid API key."
MISSING_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity)."
    " Please use API Key or other form of API consumer identity to call this API."
)
SERVICE = "generativelanguage.googleapis.com"


def status_for(http_status: int) -> str:
    """The ``error.status`` name of an HTTP status."""
    if http_status in STATUS_BY_HTTP:
        return STATUS_BY_HTTP[http_status]
    return "INTERNAL" if http_status >= 500 else "FAILED_PRECONDITION"


def google_error(http_status: int, message: str, status: str | None = None) -> ApiError:
    """An error rendered as ``{"error": {code, message, status}}``."""
    return ApiError(http_status, message, status or status_for(http_status))


class GeminiWire(Wire):
    """Google's JSON errors, the ``x-goog-api-key`` header."""

    name = "gemini"
    # Google's reference names no request id header; the emulator sends its own
    request_id_header = "x-emulator-request-id"

    def error_type_for(self, status: int) -> str:
        return status_for(status)

    def error_body(self, error: ApiError, request_id: str) -> bytes:
        inner: dict[str, object] = {
            "code": error.status,
            "message": error.message,
            "status": error.error_type,
        }
        if error.code == "API_KEY_INVALID":
            inner["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": SERVICE},
                }
            ]
        return orjson.dumps({"error": inner})

    def authorize(self, headers: dict[str, str], api_key: str | None) -> None:
        if api_key is None:
            return
        given = headers.get("x-goog-api-key")
        if not given:
            raise ApiError(403, MISSING_KEY, "PERMISSION_DENIED")
        if given != api_key:
            raise ApiError(400, INVALID_KEY, "INVALID_ARGUMENT", code="API_KEY_INVALID")

    def new_request_id(self, ids: IdFactory) -> str:
        return ids.make_hex("")

    def unknown_route(self, method: str, path: str) -> ApiError:
        return google_error(404, f"The requested URL {path} was not found on this server.")
