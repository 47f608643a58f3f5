"""Provider wire formats behind one seam (`BatchProvider`), chosen by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from batchwork_prefect.errors import ConfigurationError
from batchwork_prefect.providers.base import BatchLimits, BatchProvider, WireFormat
from batchwork_prefect.registry import PROVIDERS

__all__ = [
    "BatchLimits",
    "BatchProvider",
    "WireFormat",
    "check_batch_id",
    "get_format",
    "get_provider",
    "split_model",
]

# Each provider's module loads on first use (`PROVIDERS` names it): a script that reads
# Anthropic batches does not import the others' wire formats.


def _load(name: str, attribute: str) -> Any:
    try:
        entry = PROVIDERS[name]
    except KeyError:
        raise _unknown(name) from None
    return getattr(importlib.import_module(entry.module), getattr(entry, attribute))


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
    if provider not in PROVIDERS:
        raise _unknown(provider)
    return provider, name


def get_format(name: str) -> WireFormat:
    """A provider's wire format by name: enough to build and encode, no credentials needed."""
    factory: Callable[[], WireFormat] = _load(name, "format_class")
    return factory()


def check_batch_id(name: str, batch_id: str) -> str:
    """`batch_id` if it is well-formed for provider `name` (no I/O); else `UnsafeURLError`."""
    if name not in PROVIDERS:
        raise _unknown(name)
    check: Callable[[str], str] = importlib.import_module(PROVIDERS[name].module).check_batch_id
    return check(batch_id)


def get_provider(
    name: str,
    *,
    api_key: str | SecretStr | None = None,
    base_url: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | httpx.Timeout | None = None,
    limits: BatchLimits | None = None,
    **options: Any,
) -> BatchProvider:
    """A connected provider by name; credentials default to the provider's env vars.

    `options` are the provider's own keywords (OpenAI's `organization` and `project`)."""
    factory: Callable[..., BatchProvider] = _load(name, "provider_class")
    options.update(api_key=api_key, base_url=base_url, headers=headers)
    if timeout is not None:
        options["timeout"] = timeout
    if limits is not None:
        options["limits"] = limits
    return factory(**options)


def _unknown(name: str) -> ConfigurationError:
    return ConfigurationError(f"unknown provider {name!r}; known: {', '.join(sorted(PROVIDERS))}")
