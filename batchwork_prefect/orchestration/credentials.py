"""Credentials blocks, one per provider, and how a task turns one into a connected client.

Every provider's block resolves the same way (`connect`): a block, a saved block's name
(loaded as the model's provider's block type), or None for the provider's environment
variables. A new provider adds its block (a `ProviderCredentials` naming the provider) to
`CREDENTIALS_BLOCKS` and to `AnyCredentials`; tasks and flows need no edit.
"""

from __future__ import annotations

import os
from abc import ABC
from typing import Annotated, Any, ClassVar

from prefect.blocks.abstract import CredentialsBlock
from pydantic import AfterValidator, ConfigDict, Field, HttpUrl, SecretStr, ValidationError

from batchwork_prefect._http.origins import check_base_url
from batchwork_prefect.errors import BatchworkError, ConfigurationError
from batchwork_prefect.orchestration._sync import sync
from batchwork_prefect.providers import BatchProvider, get_provider
from batchwork_prefect.registry import PROVIDERS


def _checked_base_url(value: str | None) -> str | None:
    """`value` if a client could use it (empty: the provider's own); else ConfigurationError,
    which never shows a user:password@ part."""
    if value:
        check_base_url(value)
    return value


BaseURL = Annotated[str | None, AfterValidator(_checked_base_url)]
"""A block's base URL, checked when the block is made or loaded, as a client would check it."""


class ProviderCredentials(CredentialsBlock, ABC):  # ABC: Prefect registers no block type of it
    """What every provider's credentials block holds and does: an API key, a base URL,
    extra headers and a timeout, turned into a connected client of `provider`.

    A provider's block is a subclass naming its `provider` (an entry of
    `batchwork_prefect.registry.PROVIDERS`), its block type and its fields' descriptions;
    `client_options` adds a provider's own client keywords.
    """

    # A refused value (a base URL with a password, a key) is never quoted in the error.
    model_config = ConfigDict(hide_input_in_errors=True)

    provider: ClassVar[str]

    api_key: SecretStr = Field(description="The API key.")
    base_url: BaseURL = Field(
        default=None, description="The API base URL; the provider's own when left empty."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra headers sent with every request."
    )
    timeout: float = Field(
        default=600.0, gt=0, description="Seconds an HTTP request may take before it fails."
    )

    def get_client(self) -> BatchProvider:
        """A connected batch client of the block's provider using these credentials.

        Returns:
            The provider's `BatchProvider` for these credentials.
        """
        _check_key(self)
        # A block is the whole configuration: the worker's environment (a base URL, an
        # account) must not send this block's key to an origin the block does not name.
        return get_provider(
            self.provider,
            api_key=self.api_key,
            base_url=self.base_url or PROVIDERS[self.provider].default_base_url,
            headers=self.headers,
            timeout=self.timeout,
            **self.client_options(),
        )

    def client_options(self) -> dict[str, Any]:
        """The provider's own client keywords from the block's own fields (none here)."""
        return {}


class AnthropicCredentials(ProviderCredentials):
    """Credentials for Anthropic's Message Batches API: an API key, base URL and headers.

    Attributes:
        api_key: The Anthropic API key.
        base_url: The API base URL; https://api.anthropic.com when left empty.
        headers: Extra headers sent with every request, such as anthropic-beta.
        timeout: Seconds an HTTP request may take before it fails.

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
    _documentation_url = HttpUrl(PROVIDERS["anthropic"].docs_url)

    provider: ClassVar[str] = "anthropic"

    api_key: SecretStr = Field(description="The Anthropic API key.")
    base_url: BaseURL = Field(
        default=None,
        description="The API base URL; https://api.anthropic.com when left empty.",
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra headers sent with every request, such as anthropic-beta.",
    )


class OpenAICredentials(ProviderCredentials):
    """Credentials for OpenAI's Batch API: an API key, base URL, organization, project, headers.

    Groq's OpenAI-compatible Batch API is reached with the `openai/<model>` model and a
    block whose `base_url` is https://api.groq.com/openai/v1 and whose `api_key` is a Groq
    key (organization and project left empty).

    Attributes:
        api_key: The OpenAI API key.
        base_url: The API base URL including /v1; https://api.openai.com/v1 when left empty.
        organization: The organization id sent as OpenAI-Organization (optional).
        project: The project id sent as OpenAI-Project (optional).
        headers: Extra headers sent with every request.
        timeout: Seconds an HTTP request may take before it fails.

    Example:
        Load saved credentials and use them in a batch flow:
        ```python
        from batchwork_prefect import OpenAICredentials, run_batch

        credentials = OpenAICredentials.load("BLOCK_NAME")
        results = run_batch(model="openai/gpt-4o-mini", requests=[{"prompt": "Hi"}],
                            credentials=credentials)
        ```
    """

    _block_type_name = "OpenAI Credentials"
    _block_type_slug = "openai-credentials"
    _logo_url = HttpUrl("https://openai.com/favicon.ico")
    _documentation_url = HttpUrl(PROVIDERS["openai"].docs_url)

    provider: ClassVar[str] = "openai"

    api_key: SecretStr = Field(description="The OpenAI API key.")
    base_url: BaseURL = Field(
        default=None,
        description="The API base URL including /v1; https://api.openai.com/v1 when left empty.",
    )
    organization: str | None = Field(
        default=None, description="The organization id, sent as OpenAI-Organization."
    )
    project: str | None = Field(default=None, description="The project id, sent as OpenAI-Project.")

    def client_options(self) -> dict[str, Any]:
        """The organization and project; the worker's OPENAI_ORG_ID and OPENAI_PROJECT_ID
        never stand in for them."""
        return {"organization": self.organization or "", "project": self.project or ""}


class TogetherCredentials(ProviderCredentials):
    """Credentials for Together's Batch API: an API key, base URL and headers.

    Attributes:
        api_key: The Together API key.
        base_url: The API base URL without /v1; https://api.together.ai when left empty.
        headers: Extra headers sent with every request.
        timeout: Seconds an HTTP request may take before it fails.

    Example:
        Load saved credentials and use them in a batch flow:
        ```python
        from batchwork_prefect import TogetherCredentials, run_batch

        credentials = TogetherCredentials.load("BLOCK_NAME")
        results = run_batch(model="together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
                            requests=[{"prompt": "Hi"}], credentials=credentials)
        ```
    """

    _block_type_name = "Together Credentials"
    _block_type_slug = "together-credentials"
    _logo_url = HttpUrl("https://www.together.ai/favicon.ico")
    _documentation_url = HttpUrl(PROVIDERS["together"].docs_url)

    provider: ClassVar[str] = "together"

    api_key: SecretStr = Field(description="The Together API key.")
    base_url: BaseURL = Field(
        default=None,
        description="The API base URL without /v1; https://api.together.ai when left empty.",
    )


class MistralCredentials(ProviderCredentials):
    """Credentials for Mistral's Batch API: an API key, base URL and headers.

    Attributes:
        api_key: The Mistral API key (stored encrypted as a secret).
        base_url: The API base URL without /v1 (default https://api.mistral.ai).
        headers: Extra headers sent with every request.
        timeout: Seconds an HTTP request may take before it fails.

    Example:
        Load saved credentials and use them in a batch flow:
        ```python
        from batchwork_prefect import MistralCredentials, run_batch

        credentials = MistralCredentials.load("BLOCK_NAME")
        results = run_batch(model="mistral/mistral-small-latest", requests=[{"prompt": "Hi"}],
                            credentials=credentials)
        ```
    """

    _block_type_name = "Mistral Credentials"
    _block_type_slug = "mistral-credentials"
    _logo_url = HttpUrl("https://mistral.ai/favicon.ico")
    _documentation_url = HttpUrl(PROVIDERS["mistral"].docs_url)

    provider: ClassVar[str] = "mistral"

    api_key: SecretStr = Field(description="The Mistral API key.")
    base_url: BaseURL = Field(
        default=None,
        description="The API base URL without /v1; https://api.mistral.ai when left empty.",
    )


def _check_key(block: ProviderCredentials) -> None:
    if not block.api_key.get_secret_value().strip():
        raise ConfigurationError(
            f"the {block._block_type_slug} block {block._block_document_name or ''!r} has an "
            "empty api_key: save it again with the key "
            f"(`{_save_command(block.provider, 'NAME')}`)"
        )


def _save_command(provider: str, name: str) -> str:
    option = "" if provider == "anthropic" else f" --provider {provider}"
    return f"batchwork-prefect save-credentials {name}{option}"


class XAICredentials(ProviderCredentials):
    """Credentials for xAI's Batch API: an API key, base URL and headers.

    Attributes:
        api_key: The xAI API key (stored encrypted by Prefect).
        base_url: The API base URL, with `/v1`; xAI's own (`https://api.x.ai/v1`) when
            left empty.
        headers: Extra headers sent with every request.
        timeout: Seconds an HTTP request may take before it fails.

    Example:
        ```python
        from batchwork_prefect import XAICredentials

        XAICredentials(api_key="xai-...").save("xai", overwrite=True)
        ```
    """

    _block_type_name = "xAI Credentials"
    _block_type_slug = "xai-credentials"
    _logo_url = HttpUrl("https://x.ai/favicon.ico")
    _documentation_url = HttpUrl(PROVIDERS["xai"].docs_url)

    provider: ClassVar[str] = "xai"

    api_key: SecretStr = Field(description="The xAI API key.")
    base_url: BaseURL = Field(
        default=None,
        description="The API base URL, with /v1; https://api.x.ai/v1 when left empty.",
    )


class GeminiCredentials(ProviderCredentials):
    """Credentials for Gemini's Batch API (the Gemini Developer API): an API key, base URL
    and headers.

    Attributes:
        api_key: The Gemini API key, sent as x-goog-api-key.
        base_url: The API base URL without the API version;
            https://generativelanguage.googleapis.com when left empty.
        headers: Extra headers sent with every request.
        timeout: Seconds an HTTP request may take before it fails.

    Example:
        Load saved credentials and use them in a batch flow:
        ```python
        from batchwork_prefect import GeminiCredentials, run_batch

        credentials = GeminiCredentials.load("BLOCK_NAME")
        results = run_batch(model="gemini/gemini-2.5-flash", requests=[{"prompt": "Hi"}],
                            credentials=credentials)
        ```
    """

    _block_type_name = "Gemini Credentials"
    _block_type_slug = "gemini-credentials"
    _documentation_url = HttpUrl(PROVIDERS["gemini"].docs_url)

    provider: ClassVar[str] = "gemini"

    api_key: SecretStr = Field(description="The Gemini API key, sent as x-goog-api-key.")
    base_url: BaseURL = Field(
        default=None,
        description="The API base URL without /v1beta; "
        "https://generativelanguage.googleapis.com when left empty.",
    )


AnyCredentials = (
    AnthropicCredentials
    | OpenAICredentials
    | TogetherCredentials
    | MistralCredentials
    | XAICredentials
    | GeminiCredentials
)
"""Every provider's credentials block: the type of the flows' `credentials` parameter."""

Credentials = AnyCredentials | str | None
"""A credentials block, a saved block's name, or None for the provider's env vars."""

CREDENTIALS_BLOCKS: dict[str, type[AnyCredentials]] = {
    "anthropic": AnthropicCredentials,
    "openai": OpenAICredentials,
    "together": TogetherCredentials,
    "mistral": MistralCredentials,
    "xai": XAICredentials,
    "gemini": GeminiCredentials,
}


def credentials_block(provider: str) -> type[AnyCredentials]:
    """The credentials block type of a provider, by the provider's name."""
    try:
        return CREDENTIALS_BLOCKS[provider]
    except KeyError:
        known = ", ".join(sorted(CREDENTIALS_BLOCKS))
        raise ConfigurationError(
            f"no credentials block for provider {provider!r}; known: {known}"
        ) from None


def connect(provider: str, credentials: Credentials) -> BatchProvider:
    """A connected provider from a credentials block, a saved block's name, or env vars."""
    block_type = credentials_block(provider)
    if credentials is None:
        variables = PROVIDERS[provider].api_key_env
        if not any(os.environ.get(variable) for variable in variables):
            raise ConfigurationError(
                f"no {block_type.__name__} for this run: pass the flow's `credentials` "
                f"parameter (the name of a saved {block_type._block_type_slug} block, e.g. "
                f"`{_save_command(provider, provider)}`), or set "
                f"{' or '.join(variables)} in the worker's environment"
            )
        return get_provider(provider)
    if isinstance(credentials, str):
        return _load(block_type, credentials).get_client()
    if not isinstance(credentials, block_type):
        raise ConfigurationError(
            f"{type(credentials).__name__} cannot be used for provider {provider!r}; "
            f"give a {block_type.__name__} block or its saved name"
        )
    return credentials.get_client()


def _load(block_type: type[AnyCredentials], name: str) -> AnyCredentials:
    try:
        block: AnyCredentials = sync(block_type.load(name))
    except BatchworkError:
        raise
    except RuntimeError as exc:  # Prefect's "failed validation", from a ValidationError
        if not isinstance(exc.__cause__, ValidationError):
            raise
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}"
            for error in exc.__cause__.errors()
        )
        raise ConfigurationError(
            f"the saved {block_type._block_type_slug} block {name!r} is not valid "
            f"({problems}); save it again: `{_save_command(block_type.provider, name)}`"
        ) from None
    except ValueError as exc:
        raise ConfigurationError(
            f"cannot load the {block_type._block_type_slug} block {name!r} ({exc}); save "
            f"it first: `{_save_command(block_type.provider, name)}`, or pick a saved one"
        ) from None
    return block
