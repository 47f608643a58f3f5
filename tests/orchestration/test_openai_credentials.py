"""The OpenAICredentials block: Prefect's block standards, save/load, secrecy, and how a flow
gets OpenAI credentials (a block, a saved block's name, or the OPENAI_* env vars)."""

from __future__ import annotations

from contextlib import closing

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite

from batchwork_prefect import (
    AnthropicCredentials,
    ConfigurationError,
    OpenAICredentials,
    run_batch,
)
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.credentials import (
    CREDENTIALS_BLOCKS,
    connect,
    credentials_block,
)
from batchwork_prefect.providers.openai import OpenAIProvider
from tests.support import API_KEY

MODEL = "openai/gpt-4o-mini"
CAPITALS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]


class TestOpenAICredentialsStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return OpenAICredentials


def test_the_registry_names_the_openai_block() -> None:
    assert credentials_block("openai") is OpenAICredentials
    assert CREDENTIALS_BLOCKS["anthropic"] is AnthropicCredentials


def test_saved_block_round_trips_and_hides_the_key() -> None:
    OpenAICredentials(
        api_key=API_KEY,
        base_url="http://127.0.0.1:9/v1",
        organization="org-123",
        project="proj_456",
        headers={"x-extra": "1"},
    ).save("test-openai-creds", overwrite=True)
    loaded = OpenAICredentials.load("test-openai-creds")
    assert isinstance(loaded, OpenAICredentials)
    assert loaded.api_key.get_secret_value() == API_KEY
    assert (loaded.organization, loaded.project) == ("org-123", "proj_456")
    assert loaded.headers == {"x-extra": "1"}
    assert API_KEY not in repr(loaded)
    assert API_KEY not in str(loaded.model_dump())


def test_the_client_sends_the_key_organization_project_and_headers(emulator: Emulator) -> None:
    block = OpenAICredentials(
        api_key=API_KEY,
        base_url=emulator.openai_base_url,
        organization="org-123",
        project="proj_456",
        headers={"x-extra": "1"},
    )
    with closing(block.get_client()) as provider:
        assert isinstance(provider, OpenAIProvider)
        assert provider.base_url.rstrip("/") == emulator.openai_base_url
        assert list(provider.list_batches()) == []
    [(_, headers)] = emulator.requests_received
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["openai-organization"] == "org-123"
    assert headers["openai-project"] == "proj_456"
    assert headers["x-extra"] == "1"


def test_a_saved_block_name_connects(emulator: Emulator) -> None:
    OpenAICredentials(api_key=API_KEY, base_url=emulator.openai_base_url).save(
        "openai-emulator-creds", overwrite=True
    )
    with closing(connect("openai", "openai-emulator-creds")) as provider:
        assert list(provider.list_batches()) == []
    assert emulator.calls["openai.batches.list"] == 1


def test_a_block_of_another_provider_is_refused(emulator: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="give a OpenAICredentials block"):
        connect("openai", AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url))
    with pytest.raises(ConfigurationError, match="give a AnthropicCredentials block"):
        connect("anthropic", OpenAICredentials(api_key=API_KEY))


def test_a_block_with_an_empty_key_says_how_to_save_it_again() -> None:
    with pytest.raises(ConfigurationError) as caught:
        OpenAICredentials(api_key=" ").get_client()
    assert "empty api_key" in str(caught.value)
    assert "batchwork-prefect save-credentials NAME --provider openai" in str(caught.value)


def test_an_unsaved_name_says_how_to_save_it() -> None:
    with pytest.raises(ConfigurationError) as caught:
        connect("openai", "no-such-openai-block")
    assert "openai-credentials" in str(caught.value)
    assert "save-credentials no-such-openai-block --provider openai" in str(caught.value)


def test_run_batch_by_saved_name(emulator: Emulator) -> None:
    OpenAICredentials(api_key=API_KEY, base_url=emulator.openai_base_url).save(
        "openai-by-name", overwrite=True
    )
    results = run_batch(
        model=MODEL, requests=CAPITALS, credentials="openai-by-name", poll_interval=0.05
    )
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert emulator.calls["openai.batches.create"] == 1


def test_a_block_is_the_whole_configuration_whatever_the_worker_s_env(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker's environment must not send a block's key elsewhere, nor another
    # organization's ids to the block's API (a Groq block on an OpenAI worker, say).
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    with closing(OpenAICredentials(api_key=API_KEY).get_client()) as default:
        assert default.base_url == "https://api.openai.com/v1"
    with closing(AnthropicCredentials(api_key=API_KEY).get_client()) as anthropic:
        assert anthropic.base_url == "https://api.anthropic.com"
    block = OpenAICredentials(api_key=API_KEY, base_url=emulator.openai_base_url)
    with closing(block.get_client()) as provider:
        assert list(provider.list_batches()) == []
    [(_, headers)] = emulator.requests_received
    assert "openai-organization" not in headers and "openai-project" not in headers


def test_run_batch_by_env_vars_when_credentials_is_empty(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.openai_base_url)
    monkeypatch.setenv("OPENAI_ORG_ID", "org-env")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-env")
    results = run_batch(model=MODEL, requests=CAPITALS, poll_interval=0.05)
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert emulator.requests_received
    for _, headers in emulator.requests_received:
        assert headers["authorization"] == f"Bearer {API_KEY}"
        assert (headers["openai-organization"], headers["openai-project"]) == (
            "org-env",
            "proj-env",
        )


def test_without_credentials_or_env_var_the_error_names_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    state = run_batch(model=MODEL, requests=CAPITALS, return_state=True)
    assert state.is_failed()
    with pytest.raises(ConfigurationError) as caught:
        state.result()
    message = str(caught.value)
    assert "`credentials` parameter" in message
    assert "batchwork-prefect save-credentials openai --provider openai" in message
    assert "OPENAI_API_KEY" in message
