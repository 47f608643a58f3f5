"""`batchwork-prefect save-credentials --provider gemini`: a GeminiCredentials block."""

from __future__ import annotations

import pytest

from batchwork_prefect.orchestration.credentials import GeminiCredentials
from tests.cli.helpers import run

SECRET = "gemini-cli-secret-0123456789"


def _load(name: str) -> GeminiCredentials:
    block = GeminiCredentials.load(name)
    assert isinstance(block, GeminiCredentials)
    return block


@pytest.mark.usefixtures("prefect_server")
def test_a_gemini_block_is_saved_with_its_key_from_gemini_api_key() -> None:
    result = run(
        "save-credentials",
        "--provider",
        "gemini",
        env={"GEMINI_API_KEY": SECRET, "GOOGLE_API_KEY": None, "ANTHROPIC_API_KEY": None},
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "saved gemini-credentials/gemini (the provider's default base_url)\n"
    assert SECRET not in result.output
    block = _load("gemini")
    assert block.api_key.get_secret_value() == SECRET
    assert block.base_url is None
    client = block.get_client()
    try:
        assert client.base_url == "https://generativelanguage.googleapis.com"
    finally:
        client.close()


@pytest.mark.usefixtures("prefect_server")
def test_google_api_key_wins_over_gemini_api_key_as_in_the_sdk() -> None:
    result = run(
        "save-credentials",
        "gemini-google",
        "--provider",
        "gemini",
        env={"GOOGLE_API_KEY": "google-key-0123456789", "GEMINI_API_KEY": SECRET},
    )
    assert result.exit_code == 0, result.output
    assert _load("gemini-google").api_key.get_secret_value() == "google-key-0123456789"


@pytest.mark.usefixtures("prefect_server")
def test_a_gemini_block_for_the_emulator_takes_its_base_url() -> None:
    result = run(
        "save-credentials",
        "gemini-emulator",
        "--provider",
        "gemini",
        "--base-url",
        "http://127.0.0.1:8787/gemini",
        env={"GEMINI_API_KEY": SECRET},
    )
    assert result.exit_code == 0, result.output
    block = _load("gemini-emulator")
    assert block.base_url == "http://127.0.0.1:8787/gemini"
    assert block.api_key.get_secret_value() == "emulator"  # a real key never goes to loopback
