"""The AnthropicCredentials block: Prefect's block standards, save/load, and secrecy."""

from __future__ import annotations

from contextlib import closing

import pytest
from prefect.blocks.core import Block
from prefect.testing.standard_test_suites import BlockStandardTestSuite
from pydantic import SecretStr, ValidationError

from batchwork_prefect import (
    AnthropicCredentials,
    ConfigurationError,
    OpenAICredentials,
    XAICredentials,
)
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.credentials import connect
from tests.support import API_KEY


class TestAnthropicCredentialsStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return AnthropicCredentials


def test_saved_block_round_trips_and_hides_the_key() -> None:
    AnthropicCredentials(
        api_key=API_KEY, base_url="http://127.0.0.1:9", headers={"anthropic-beta": "x"}
    ).save("test-creds", overwrite=True)
    loaded = AnthropicCredentials.load("test-creds")
    assert loaded.api_key.get_secret_value() == API_KEY
    assert loaded.headers == {"anthropic-beta": "x"}
    assert API_KEY not in repr(loaded)
    assert API_KEY not in str(loaded.model_dump())


def test_a_saved_block_name_connects(emulator: Emulator) -> None:
    AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url).save(
        "emulator-creds", overwrite=True
    )
    with closing(connect("anthropic", "emulator-creds")) as provider:
        assert list(provider.list_batches()) == []
    assert emulator.calls["list"] == 1


def test_the_collections_entry_point_names_the_prefect_layer() -> None:
    from importlib.metadata import entry_points

    names = {entry.value for entry in entry_points(group="prefect.collections")}
    assert "batchwork_prefect.orchestration" in names


def test_block_register_command_finds_the_block() -> None:
    import os
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    completed = subprocess.run(
        [sys.executable, "-m", "prefect", "block", "register", "-m", "batchwork_prefect"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Anthropic Credentials" in completed.stdout
    assert "OpenAI Credentials" in completed.stdout
    assert "xAI Credentials" in completed.stdout


def test_a_block_with_an_empty_key_says_to_save_it_again() -> None:
    from batchwork_prefect.errors import ConfigurationError

    block = AnthropicCredentials(api_key=" ")
    with pytest.raises(ConfigurationError) as caught:
        block.get_client()
    assert "empty api_key" in str(caught.value)
    assert "batchwork-prefect save-credentials" in str(caught.value)
    assert "api_key=" not in str(caught.value)


@pytest.mark.parametrize("block_type", [AnthropicCredentials, OpenAICredentials, XAICredentials])
def test_a_base_url_with_a_password_is_refused_without_showing_it(
    block_type: type[AnthropicCredentials | OpenAICredentials | XAICredentials],
) -> None:
    with pytest.raises(ValidationError) as caught:
        block_type(api_key=API_KEY, base_url="https://user:hunter2-pw@api.example.com/v1")
    assert "hunter2" not in str(caught.value)
    assert "base_url 'https://***@api.example.com/v1' must not carry a user or password" in str(
        caught.value
    )


def test_a_block_saved_with_a_password_in_its_base_url_says_to_save_it_again() -> None:
    # Saved before blocks checked their base URL: model_construct skips the check.
    AnthropicCredentials.model_construct(
        api_key=SecretStr(API_KEY), base_url="http://user:hunter2-pw@127.0.0.1:9"
    ).save("userinfo-creds", overwrite=True)
    with pytest.raises(ConfigurationError) as caught:
        connect("anthropic", "userinfo-creds")
    message = str(caught.value)
    assert "hunter2" not in message and API_KEY not in message
    assert message.startswith(
        "the saved anthropic-credentials block 'userinfo-creds' is not valid (base_url: Value "
        "error, base_url 'http://***@127.0.0.1:9' must not carry a user or password"
    )
    assert message.endswith("save it again: `batchwork-prefect save-credentials userinfo-creds`")


def test_a_block_saved_with_plain_http_off_loopback_says_to_save_it_again() -> None:
    AnthropicCredentials.model_construct(
        api_key=SecretStr(API_KEY), base_url="http://api.example.com"
    ).save("plain-http-creds", overwrite=True)
    with pytest.raises(ConfigurationError) as caught:
        connect("anthropic", "plain-http-creds")
    assert "base_url 'http://api.example.com' must use https" in str(caught.value)
    assert str(caught.value).endswith(
        "save it again: `batchwork-prefect save-credentials plain-http-creds`"
    )


def test_an_xai_block_connects_an_xai_provider_at_its_base_url_and_hides_its_key() -> None:
    from batchwork_prefect.providers.xai import XAIProvider

    secret = "xai-block-secret-0123456789"
    block = XAICredentials(api_key=secret)
    client = block.get_client()
    assert isinstance(client, XAIProvider)
    assert client.base_url == "https://api.x.ai/v1"
    assert secret not in repr(block) and secret not in repr(client)
    XAICredentials(api_key=secret, base_url="http://127.0.0.1:9/xai/v1").save(
        "xai-test-block", overwrite=True
    )
    loaded = connect("xai", "xai-test-block")
    assert isinstance(loaded, XAIProvider) and loaded.base_url == "http://127.0.0.1:9/xai/v1"
