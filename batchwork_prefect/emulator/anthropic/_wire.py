"""The Message Batches API's error bodies, request ids and auth."""

from __future__ import annotations

import orjson

from .._errors import ApiError, error_type_for, invalid_request, not_found
from .._ids import IdFactory
from .._wire import Wire, bearer


class AnthropicWire(Wire):
    """``{"type":"error","error":{...},"request_id":...}`` bodies, ``request-id`` headers,
    ``x-api-key`` (or a bearer token) and a required ``anthropic-version``."""

    name = "anthropic"
    request_id_header = "request-id"

    def error_type_for(self, status: int) -> str:
        return error_type_for(status)

    def error_body(self, error: ApiError, request_id: str) -> bytes:
        return error_body(error.error_type, error.message, request_id)

    def authorize(self, headers: dict[str, str], api_key: str | None) -> None:
        if api_key is not None and api_key not in (
            headers.get("x-api-key"),
            bearer(headers.get("authorization")),
        ):
            raise ApiError(401, "invalid x-api-key")
        if "anthropic-version" not in headers:
            raise invalid_request("anthropic-version: header is required")

    def new_request_id(self, ids: IdFactory) -> str:
        return ids.make("req_")

    def unknown_route(self, method: str, path: str) -> ApiError:
        return not_found("The requested resource could not be found.")


def error_body(error_type: str, message: str, request_id: str) -> bytes:
    """The standard ``{"type":"error","error":{...},"request_id":...}`` body."""
    error = {"type": error_type, "message": message}
    return orjson.dumps({"type": "error", "error": error, "request_id": request_id})
