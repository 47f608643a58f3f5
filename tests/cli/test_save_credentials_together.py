"""`batchwork-prefect save-credentials --provider together`: a TogetherCredentials block from
TOGETHER_API_KEY, and the block's client talks to the emulator's Together API."""

from __future__ import annotations

from contextlib import closing

import pytest

from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.credentials import (
    TogetherCredentials,
    connect,
    credentials_block,
)
from tests.cli.helpers import run
from tests.support import API_KEY

SECRET = "tgp-cli-secret-0123456789abcdef"


def test_the_registry_names_the_together_block() -> None:
    assert credentials_block("together") is TogetherCredentials


@pytest.mark.usefixtures("prefect_server")
def test_the_key_comes_from_together_api_key_and_is_never_printed() -> None:
    result = run(
        "save-credentials",
        "together-env",
        "--provider",
        "together",
        env={"TOGETHER_API_KEY": SECRET},
    )
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert result.stdout.startswith("saved together-credentials/together-env")
    block = TogetherCredentials.load("together-env")
    assert isinstance(block, TogetherCredentials)
    assert block.api_key.get_secret_value() == SECRET and block.base_url is None
    assert SECRET not in repr(block)


@pytest.mark.usefixtures("prefect_server")
def test_a_saved_block_connects_to_the_emulator(emulator: Emulator) -> None:
    TogetherCredentials(api_key=API_KEY, base_url=emulator.base_url_for("together")).save(
        "together-emulator", overwrite=True
    )
    with closing(connect("together", "together-emulator")) as provider:
        assert list(provider.list_batches()) == []
    assert emulator.calls["together.batches.list"] == 1
