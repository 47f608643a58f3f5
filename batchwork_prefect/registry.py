"""The providers this package knows, one entry each: where its code is and the facts the
layers around it need (its key's variables, its default base URL, its batch ids, how its
usage counts cached tokens).

A new provider is its folder under `providers/` and its entry here; the layers read this
table instead of naming providers. It imports nothing, so every layer may read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    """One provider: `name` is the `provider` of `"provider/model"`."""

    name: str
    label: str
    """The provider's name as messages give it (`Anthropic`, `OpenAI`)."""
    module: str
    """The package module naming the provider's classes and its `check_batch_id`."""
    provider_class: str
    """Its `BatchProvider`: constructed with `api_key`, `base_url`, `headers`, `timeout`,
    `limits` (each defaulting to the provider's environment variables and defaults)."""
    format_class: str
    """Its `WireFormat`: builds and encodes requests without credentials."""
    api_key_env: tuple[str, ...]
    """The environment variables that may hold its API key, the one messages name first."""
    default_base_url: str
    """The base URL a client takes when none is given; a credentials block without one
    uses it (never the worker's environment)."""
    base_url_env: str | None = None
    """The environment variable that may hold its base URL."""
    batch_id_prefix: str | None = None
    """How its batch ids begin, where that tells the provider apart (adopting a batch by
    its id alone); None where it does not."""
    input_includes_cache: bool = False
    """Whether its usage's input tokens already count the cached tokens (pricing)."""
    prices_id: str | None = None
    """Its provider id in genai-prices' data (`google`, `x-ai`) where that is not `name`."""
    docs_url: str = ""
    """Its Batch API's documentation."""
    batch_discounted: frozenset[str] | None = None
    """Where genai-prices has none of its batch prices and its Batch API charges the
    standard prices: the models its batch docs discount by half (every other model pays the
    standard price). None: its batch prices are genai-prices' own, or unpriced."""


PROVIDERS: dict[str, ProviderEntry] = {
    entry.name: entry
    for entry in (
        ProviderEntry(
            name="anthropic",
            label="Anthropic",
            module="batchwork_prefect.providers.anthropic",
            provider_class="AnthropicProvider",
            format_class="AnthropicFormat",
            api_key_env=("ANTHROPIC_API_KEY",),
            default_base_url="https://api.anthropic.com",
            base_url_env="ANTHROPIC_BASE_URL",
            batch_id_prefix="msgbatch_",
            docs_url="https://docs.anthropic.com/en/api/creating-message-batches",
        ),
        ProviderEntry(
            name="openai",
            label="OpenAI",
            module="batchwork_prefect.providers.openai",
            provider_class="OpenAIProvider",
            format_class="OpenAIFormat",
            api_key_env=("OPENAI_API_KEY",),
            default_base_url="https://api.openai.com/v1",
            base_url_env="OPENAI_BASE_URL",
            batch_id_prefix="batch_",
            input_includes_cache=True,
            docs_url="https://platform.openai.com/docs/guides/batch",
        ),
        ProviderEntry(
            name="groq",
            label="Groq",
            module="batchwork_prefect.providers.openai",
            provider_class="GroqProvider",
            format_class="GroqFormat",
            api_key_env=("GROQ_API_KEY",),
            default_base_url="https://api.groq.com/openai/v1",
            base_url_env="GROQ_BASE_URL",
            input_includes_cache=True,  # its ids look like OpenAI's: no prefix of its own
            docs_url="https://console.groq.com/docs/batch",
        ),
        ProviderEntry(
            name="together",
            label="Together",
            module="batchwork_prefect.providers.together",
            provider_class="TogetherProvider",
            format_class="TogetherFormat",
            api_key_env=("TOGETHER_API_KEY",),
            default_base_url="https://api.together.ai",
            base_url_env="TOGETHER_BASE_URL",
            input_includes_cache=True,  # its batch ids are UUIDs: no prefix of its own
            docs_url="https://docs.together.ai/docs/inference/batch/overview",
            batch_discounted=frozenset(
                {  # "Discounted models" of its batch overview; the rest run at standard rates
                    "meta-llama/Llama-3.3-70B-Instruct-Turbo",
                    "meta-llama/Llama-3-70b-chat-hf",
                    "Qwen/Qwen2.5-7B-Instruct-Turbo",
                    "mistralai/Mixtral-8x7B-Instruct-v0.1",
                    "zai-org/GLM-4.5-Air-FP8",
                    "openai/whisper-large-v3",
                }
            ),
        ),
        ProviderEntry(
            name="mistral",
            label="Mistral",
            module="batchwork_prefect.providers.mistral",
            provider_class="MistralProvider",
            format_class="MistralFormat",
            api_key_env=("MISTRAL_API_KEY",),
            default_base_url="https://api.mistral.ai",
            base_url_env="MISTRAL_BASE_URL",
            input_includes_cache=True,  # its job ids are UUIDs: no prefix of its own
            docs_url="https://docs.mistral.ai/capabilities/batch",
        ),
        ProviderEntry(
            name="xai",
            label="xAI",
            module="batchwork_prefect.providers.xai",
            provider_class="XAIProvider",
            format_class="XAIFormat",
            api_key_env=("XAI_API_KEY",),
            default_base_url="https://api.x.ai/v1",
            base_url_env="XAI_BASE_URL",
            input_includes_cache=True,  # its ids look like OpenAI's: no prefix of its own
            prices_id="x-ai",
            docs_url="https://docs.x.ai/developers/advanced-api-usage/batch-api",
        ),
        ProviderEntry(
            name="gemini",
            label="Gemini",
            module="batchwork_prefect.providers.gemini",
            provider_class="GeminiProvider",
            format_class="GeminiFormat",
            # the google-genai SDK's order: GOOGLE_API_KEY wins when both are set
            api_key_env=("GOOGLE_API_KEY", "GEMINI_API_KEY"),
            default_base_url="https://generativelanguage.googleapis.com",
            base_url_env="GOOGLE_GEMINI_BASE_URL",
            batch_id_prefix="batches/",
            input_includes_cache=True,
            prices_id="google",
            docs_url="https://ai.google.dev/gemini-api/docs/batch-mode",
        ),
    )
}
"""Every provider, by name."""
