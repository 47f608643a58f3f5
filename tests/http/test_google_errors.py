"""Google's JSON errors read into `ProviderError`: the ErrorInfo reason, else the status."""

from __future__ import annotations

import httpx
import orjson

from batchwork_prefect._http.errors import provider_error


def _answer(status: int, error: dict[str, object]) -> httpx.Response:
    request = httpx.Request("GET", "https://generativelanguage.googleapis.com/v1beta/batches/x")
    return httpx.Response(status, content=orjson.dumps({"error": error}), request=request)


def test_a_refused_key_is_typed_by_its_error_info_reason_and_the_key_is_scrubbed() -> None:
    error = {
        "code": 400,
        "message": "API key not valid: AIza-secret-1234. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
        ],
    }
    found = provider_error("gemini", _answer(400, error), secrets=["AIza-secret-1234"])
    assert (found.status_code, found.error_type) == (400, "API_KEY_INVALID")
    assert "AIza-secret-1234" not in str(found)


def test_another_google_error_is_typed_by_its_status() -> None:
    found = provider_error(
        "gemini", _answer(404, {"code": 404, "message": "m", "status": "NOT_FOUND"})
    )
    assert found.error_type == "NOT_FOUND"
