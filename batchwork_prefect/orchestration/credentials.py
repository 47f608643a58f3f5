"""The `AnthropicCredentials` block: an API key and where to send it."""

from __future__ import annotations

from prefect.blocks.abstract import CredentialsBlock
from pydantic import Field, HttpUrl, SecretStr

from batchwork_prefect.providers.anthropic import AnthropicProvider


class AnthropicCredentials(CredentialsBlock):
    """Credentials for Anthropic's Message Batches API: an API key, base URL and headers.

    Example:
        Load saved credentials and use them in a batch flow:
        ```python
        from batchwork_prefect import AnthropicCredentials

        credentials = AnthropicCredentials.load("BLOCK_NAME")
        ```
    """

    _block_type_name = "Anthropic Credentials"
    _block_type_slug = "anthropic-credentials"
    _logo_url = HttpUrl("https://www.anthropic.com/images/icons/apple-touch-icon.png")
    _documentation_url = HttpUrl("https://docs.anthropic.com/en/api/creating-message-batches")

    api_key: SecretStr = Field(description="The Anthropic API key.")
    base_url: str | None = Field(
        default=None,
        description="The API base URL; https://api.anthropic.com when left empty.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra headers sent with every request, such as anthropic-beta.",
    )
    timeout: float = Field(
        default=600.0, gt=0, description="Seconds an HTTP request may take before it fails."
    )

    def get_client(self) -> AnthropicProvider:
        """A connected Anthropic batch client using these credentials."""
        return AnthropicProvider(
            api_key=self.api_key,
            base_url=self.base_url,
            headers=self.headers,
            timeout=self.timeout,
        )
