"""The provider registry: every entry names code that is there, and the layers read it."""

from __future__ import annotations

import importlib

import pytest

from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.adoption import UNKNOWN, provider_for
from batchwork_prefect.orchestration.credentials import CREDENTIALS_BLOCKS
from batchwork_prefect.providers import get_format, get_provider
from batchwork_prefect.registry import PROVIDERS


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_each_entry_names_its_classes_and_its_batch_id_check(name: str) -> None:
    entry = PROVIDERS[name]
    module = importlib.import_module(entry.module)
    assert callable(module.check_batch_id)
    assert getattr(module, entry.format_class)().name == name
    assert get_format(name).name == name


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_a_client_without_a_base_url_takes_the_entry_s_default(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = PROVIDERS[name]
    if entry.base_url_env:
        monkeypatch.delenv(entry.base_url_env, raising=False)
    client = get_provider(name, api_key="key-for-the-test")
    try:
        assert client.endpoint.split(" ", 1)[0] == entry.default_base_url.rstrip("/")
        assert client.name == name
    finally:
        client.close()


@pytest.mark.parametrize("name", sorted(CREDENTIALS_BLOCKS))
def test_a_block_without_a_base_url_takes_the_entry_s_default_not_the_environment(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = PROVIDERS[name]
    if entry.base_url_env:
        monkeypatch.setenv(entry.base_url_env, "https://elsewhere.example")
    block = CREDENTIALS_BLOCKS[name](api_key="key-for-the-test")
    client = block.get_client()
    try:
        assert client.endpoint.split(" ", 1)[0] == entry.default_base_url.rstrip("/")
    finally:
        client.close()


@pytest.mark.parametrize(
    ("batch_id", "provider"),
    [
        (f"{entry.batch_id_prefix}abc123", name)
        for name, entry in PROVIDERS.items()
        if entry.batch_id_prefix
    ],
)
def test_a_rebuilt_intent_s_provider_is_told_by_its_batch_id_prefix(
    batch_id: str, provider: str
) -> None:
    assert provider_for(UNKNOWN, None, batch_id) == provider


def test_the_emulator_gives_each_api_s_base_url() -> None:
    with Emulator() as emu:
        assert emu.base_url_for("anthropic") == emu.base_url
        assert emu.base_url_for("openai") == emu.base_url + "/v1" == emu.openai_base_url
        with pytest.raises(ValueError, match="api must be one of anthropic, openai"):
            emu.base_url_for("nobody")


def test_the_blocks_base_is_no_block_type_of_its_own() -> None:
    from prefect.blocks.core import InvalidBlockRegistration

    from batchwork_prefect.orchestration.credentials import ProviderCredentials

    with pytest.raises(InvalidBlockRegistration, match="interface"):
        ProviderCredentials.register_type_and_schema()
