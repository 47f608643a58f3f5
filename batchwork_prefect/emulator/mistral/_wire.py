"""Mistral's error bodies, request ids and auth."""

from __future__ import annotations

import orjson

from .._errors import ApiError
from .._ids import IdFactory
from .._wire import Wire, bearer

UNAUTHORIZED = "Unauthorized"


def mistral_error_type_for(status: int) -> str:
    """``type`` of a Mistral error body for an HTTP status."""
    if status >= 500:
        return "internal_server_error"
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "unauthorized"
    if status == 404:
        return "not_found"
    return "invalid_request_error"


def mistral_error(status: int, message: str, *, param: str | None = None) -> ApiError:
    """A Mistral-style error (its type from ``mistral_error_type_for``)."""
    return ApiError(status, message, mistral_error_type_for(status), param=param)


class MistralWire(Wire):
    """``{"object": "error", message, type, param, code}`` bodies, ``x-request-id``
    headers with hex ids, bearer tokens (the API reference's ``ApiKey`` scheme)."""

    name = "mistral"
    request_id_header = "x-request-id"

    def error_type_for(self, status: int) -> str:
        return mistral_error_type_for(status)

    def error_body(self, error: ApiError, request_id: str) -> bytes:
        return orjson.dumps(
            {
                "object": "error",
                "message": error.message,
                "type": error.error_type,
                "param": error.param,
                "code": error.code,
            }
        )

    def authorize(self, headers: dict[str, str], api_key: str | None) -> None:
        if api_key is None:
            return
        if bearer(headers.get("authorization")) != api_key:
            raise ApiError(401, UNAUTHORIZED, "unauthorized")

    def new_request_id(self, ids: IdFactory) -> str:
        return ids.make_hex("")

    def unknown_route(self, method: str, path: str) -> ApiError:
        return ApiError(404, "Not Found", "not_found")
