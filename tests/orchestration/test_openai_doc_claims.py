"""docs/providers.md promises about `OpenAICredentials` and Groq that no other test pins:
the block's `timeout` reaches the client, a Groq block is an OpenAI block with Groq's base
URL, and a `groq/` model is refused with the names of the blocks there are."""

from __future__ import annotations

from contextlib import closing

import httpx
import pytest

from batchwork_prefect import ConfigurationError, OpenAICredentials
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.credentials import CREDENTIALS_BLOCKS, connect
from batchwork_prefect.providers.openai import OpenAIProvider
from tests.support import API_KEY

GROQ_BASE_URL = "https://api.groq.com/openai/v1"


def test_the_blocks_timeout_reaches_the_http_client(emulator: Emulator) -> None:
    block = OpenAICredentials(api_key=API_KEY, base_url=emulator.openai_base_url, timeout=7.5)
    with closing(block.get_client()) as provider:
        assert provider._transport._client.timeout == httpx.Timeout(7.5)
        assert list(provider.list_batches()) == []


def test_a_groq_block_is_an_openai_block_with_groqs_base_url() -> None:
    block = OpenAICredentials(api_key="gsk_0123456789abcdef", base_url=GROQ_BASE_URL)
    with closing(connect("openai", block)) as provider:
        assert isinstance(provider, OpenAIProvider)
        assert str(provider.base_url).rstrip("/") == GROQ_BASE_URL


def test_a_groq_model_is_refused_naming_the_known_blocks() -> None:
    block = OpenAICredentials(api_key="gsk_0123456789abcdef", base_url=GROQ_BASE_URL)
    with pytest.raises(ConfigurationError) as caught:
        connect("groq", block)
    known = ", ".join(sorted(CREDENTIALS_BLOCKS))
    assert str(caught.value) == f"no credentials block for provider 'groq'; known: {known}"
    assert "anthropic" in known and "openai" in known
