"""OpenAI's error bodies, request ids and auth."""

from __future__ import annotations

import orjson

from .._errors import ApiError, openai_error_type_for
from .._ids import IdFactory
from .._wire import Wire, bearer

OPENAI_KEYS_PAGE = "https://platform.openai.com/account/api-keys"
OPENAI_MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization"
    " header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field"
    " (with blank username) if you're accessing the API from your browser and are prompted"
    f" for a username. You can obtain an API key from {OPENAI_KEYS_PAGE}."
)


class OpenAIWire(Wire):
    """``{"error":{message,type,param,code}}`` bodies, ``x-request-id`` headers with hex
    ids, bearer tokens."""

    name = "openai"
    request_id_header = "x-request-id"

    def error_type_for(self, status: int) -> str:
        return openai_error_type_for(status)

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
            raise ApiError(401, OPENAI_MISSING_KEY, "invalid_request_error")
        if given != api_key:
            raise ApiError(
                401,
                f"Incorrect API key provided: {mask_key(given)}. You can find your API key at"
                f" {OPENAI_KEYS_PAGE}.",
                "invalid_request_error",
                code="invalid_api_key",
            )

    def new_request_id(self, ids: IdFactory) -> str:
        return ids.make_hex("req_")

    def unknown_route(self, method: str, path: str) -> ApiError:
        return ApiError(404, f"Invalid URL ({method} {path})", "invalid_request_error")

    def fault_code(self, status: int) -> str | None:
        return "rate_limit_exceeded" if status == 429 else None


def mask_key(key: str) -> str:
    """A key as OpenAI echoes it: its first 8 and last 4 characters around ``*`` for the
    rest; keys of 12 characters or fewer are echoed whole."""
    if len(key) <= 12:
        return key
    return key[:8] + "*" * (len(key) - 12) + key[-4:]
