"""One TLS context per process: making one loads the CA bundle (~20 ms), and every task
connects a provider of its own, so each used to pay for it."""

from __future__ import annotations

import httpx
import pytest

from batchwork_prefect._http import transport
from batchwork_prefect.providers import get_provider


def test_providers_share_one_tls_context_made_once(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []
    real = httpx.create_ssl_context

    def counted(*args: object, **kwargs: object) -> object:
        made.append(None)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx, "create_ssl_context", counted)
    transport.ssl_context.cache_clear()
    try:
        providers = [get_provider(name, api_key="k") for name in ("anthropic", "openai", "groq")]
        for provider in providers:
            provider.close()
        assert len(made) == 1
        assert transport.ssl_context() is transport.ssl_context()
    finally:
        transport.ssl_context.cache_clear()


def test_the_shared_context_verifies_certificates() -> None:
    import ssl

    context = transport.ssl_context()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
