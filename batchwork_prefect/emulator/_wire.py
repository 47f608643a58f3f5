"""The two APIs' ways of saying the same things: error bodies, request-id headers, auth."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from ._errors import ApiError, error_type_for, invalid_request, openai_error_type_for
from ._responses import error_body

OPENAI_KEYS_PAGE = "https://platform.openai.com/account/api-keys"
OPENAI_MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization"
    " header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field"
    " (with blank username) if you're accessing the API from your browser and are prompted"
    f" for a username. You can obtain an API key from {OPENAI_KEYS_PAGE}."
)


@dataclass(frozen=True, slots=True)
class Wire:
    """One API's conventions; ``ANTHROPIC`` and ``OPENAI`` are the two instances."""

    name: str
    request_id_header: str

    def error_type_for(self, status: int) -> str:
        """``error.type`` for an HTTP status."""
        if self is OPENAI:
            return openai_error_type_for(status)
        return error_type_for(status)

    def error_body(self, error: ApiError, request_id: str) -> bytes:
        """The JSON error body of this API."""
        if self is OPENAI:
            inner = {
                "message": error.message,
                "type": error.error_type,
                "param": error.param,
                "code": error.code,
            }
            return orjson.dumps({"error": inner})
        return error_body(error.error_type, error.message, request_id)

    def authorize(self, headers: dict[str, str], api_key: str | None) -> None:
        """Raise the API's 401 (or Anthropic's missing-version 400) for a refused request."""
        if self is OPENAI:
            _authorize_openai(headers, api_key)
            return
        if api_key is not None and api_key not in (
            headers.get("x-api-key"),
            bearer(headers.get("authorization")),
        ):
            raise ApiError(401, "invalid x-api-key")
        if "anthropic-version" not in headers:
            raise invalid_request("anthropic-version: header is required")


ANTHROPIC = Wire("anthropic", "request-id")
OPENAI = Wire("openai", "x-request-id")


def bearer(value: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if that is its form."""
    if value is None or not value.lower().startswith("bearer "):
        return None
    return value[7:].strip()


def mask_key(key: str) -> str:
    """A key as OpenAI echoes it: its first 8 and last 4 characters around ``*`` for the
    rest; keys of 12 characters or fewer are echoed whole."""
    if len(key) <= 12:
        return key
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def _authorize_openai(headers: dict[str, str], api_key: str | None) -> None:
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
