"""Provider wire formats behind one seam (`BatchProvider`), chosen by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import httpx
from pydantic import SecretStr

from batchwork_prefect.errors import ConfigurationError
from batchwork_prefect.providers.anthropic import AnthropicFormat, AnthropicProvider
from batchwork_prefect.providers.base import BatchLimits, BatchProvider, WireFormat
from batchwork_prefect.providers.openai import (
    GroqFormat,
    GroqProvider,
    OpenAIFormat,
    OpenAIProvider,
)

__all__ = [
    "BatchLimits",
    "BatchProvider",
    "WireFormat",
    "get_format",
    "get_provider",
    "split_model",
]

_PROVIDERS: dict[str, Callable[..., BatchProvider]] = {
    "anthropic": AnthropicProvider,
    "openai": OpenAIProvider,
    "groq": GroqProvider,
}
_FORMATS: dict[str, Callable[[], WireFormat]] = {
    "anthropic": AnthropicFormat,
    "openai": OpenAIFormat,
    "groq": GroqFormat,
}


def split_model(model: str) -> tuple[str, str]:
    """`"anthropic/claude-opus-4-8"` as `("anthropic", "claude-opus-4-8")`."""
    if not isinstance(model, str):
        raise ConfigurationError(
            f"model must be a 'provider/model' string, e.g. 'anthropic/claude-opus-4-8', "
            f"not {type(model).__name__}"
        )
    provider, sep, name = model.partition("/")
    if not sep or not provider or not name:
        raise ConfigurationError(
            f"model {model!r} must be 'provider/model', e.g. 'anthropic/claude-opus-4-8'"
        )
    if provider not in _PROVIDERS:
        raise _unknown(provider)
    return provider, name


def get_format(name: str) -> WireFormat:
    """A provider's wire format by name: enough to build and encode, no credentials needed."""
    try:
        return _FORMATS[name]()
    except KeyError:
        raise _unknown(name) from None


def get_provider(
    name: str,
    *,
    api_key: str | SecretStr | None = None,
    base_url: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | httpx.Timeout | None = None,
    limits: BatchLimits | None = None,
) -> BatchProvider:
    """A connected provider by name; credentials default to the provider's env vars."""
    try:
        factory = _PROVIDERS[name]
    except KeyError:
        raise _unknown(name) from None
    options: dict[str, object] = {"api_key": api_key, "base_url": base_url, "headers": headers}
    if timeout is not None:
        options["timeout"] = timeout
    if limits is not None:
        options["limits"] = limits
    return factory(**options)


def _unknown(name: str) -> ConfigurationError:
    return ConfigurationError(f"unknown provider {name!r}; known: {', '.join(sorted(_PROVIDERS))}")
