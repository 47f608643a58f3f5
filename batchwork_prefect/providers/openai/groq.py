"""Groq's batches: OpenAI's wire format and API under Groq's base URL and key."""

from __future__ import annotations

from typing import Any

from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers.openai.provider import OpenAIFormat, OpenAIProvider
from batchwork_prefect.providers.openai.requests import output_fields
from batchwork_prefect.registry import PROVIDERS

GROQ_BASE_URL = PROVIDERS["groq"].default_base_url


GROQ_STRICT_MODELS = ("openai/gpt-oss-",)
"""Groq models whose structured output is strict (constrained decoding), by name prefix,
as Groq's structured-outputs page lists them; the others take it in best-effort mode."""


class GroqFormat(OpenAIFormat):
    """Groq's batches: OpenAI's wire format under another name."""

    name = "groq"

    def output_fields(self, output: OutputType, model: str = "") -> dict[str, Any]:
        """`response_format` for `output`: strict where Groq's model has strict mode."""
        return output_fields(output, strict=model.startswith(GROQ_STRICT_MODELS))


class GroqProvider(OpenAIProvider):
    """Groq's OpenAI-compatible Batch API: `GROQ_API_KEY`, `GROQ_BASE_URL` (default
    https://api.groq.com/openai/v1), no organization or project headers."""

    name = "groq"
    label = "Groq"
    api_key_env = "GROQ_API_KEY"
    base_url_env = "GROQ_BASE_URL"
    default_base_url = GROQ_BASE_URL
    organization_env = None
    project_env = None
    output_fields = GroqFormat.output_fields  # strict only where Groq's model has it
