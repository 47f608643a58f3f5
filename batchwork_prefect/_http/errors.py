"""Error answers mapped to `ProviderError`, in one place, with secrets scrubbed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
import orjson

from batchwork_prefect._http.secrets import scrub
from batchwork_prefect.errors import (
    ProviderError,
)


def provider_error(
    provider: str, response: httpx.Response, *, secrets: Iterable[str] = ()
) -> ProviderError:
    """A `ProviderError` describing an error answer, with `secrets` scrubbed from its text."""
    error_type, message = _error_details(response, secrets)
    if response.is_redirect:
        message = "redirect not followed (credentials are never sent to another location)"
    return ProviderError(
        f"{provider} API error: {message}",
        status_code=response.status_code,
        error_type=error_type,
        request_id=response.headers.get("request-id") or response.headers.get("x-request-id"),
        method=response.request.method,
        url=_redacted(response.request.url),
    )


def _error_details(response: httpx.Response, secrets: Iterable[str]) -> tuple[str | None, str]:
    try:
        body: Any = orjson.loads(response.content)
    except (orjson.JSONDecodeError, httpx.ResponseNotRead):
        return None, response.reason_phrase or "error"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) and isinstance(body, dict) and "message" in body:
        error = body  # Mistral's errors: `{"object": "error", "message", "type", ...}`
    if isinstance(error, str):  # xAI: {"code": <status words>, "error": <message>}
        error = {"type": body.get("code"), "message": error}
    if not isinstance(error, dict):
        return None, response.reason_phrase or "error"
    # Anthropic and OpenAI name the error's `type`; Google gives a `status` and, for a
    # refused key, an ErrorInfo `reason` (API_KEY_INVALID), the more precise of the two.
    error_type = error.get("type") or _reason(error.get("details")) or error.get("status")
    message = error.get("message")
    keys = list(secrets)
    return (
        scrub(error_type[:200], keys) if isinstance(error_type, str) else None,
        # scrubbed before it is cut: a key cut in two would no longer match whole
        scrub(message[:2000], keys)[:500]
        if isinstance(message, str)
        else (response.reason_phrase or "error"),
    )


def _reason(details: Any) -> str | None:
    """The `reason` of a Google error's first `ErrorInfo` detail, if it has one."""
    for detail in details if isinstance(details, list) else ():
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith(".ErrorInfo"):
            reason = detail.get("reason")
            return reason if isinstance(reason, str) else None
    return None


def _redacted(url: httpx.URL) -> str:
    return str(url.copy_with(query=None, fragment=None))


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
