"""Shared fixtures: a real emulator on loopback and a webhook receiver.

Shared constants and helpers live in `tests.support` (the API key, the emulated clock, the
receiver's class); tests import them from there, never from a conftest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from batchwork_prefect.emulator import Emulator
from tests.support import API_KEY
from tests.support.webhooks import Receiver, running_receiver

# Property tests judge behaviour, never speed: a loaded CI machine must not fail them.
settings.register_profile("batchwork", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("batchwork")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Two processes, each test file whole on one, unless `-n` is given or pytest-xdist is
    not loaded (`-p no:xdist`): addopts cannot say "-n 2 if xdist is there"."""
    if not config.pluginmanager.hasplugin("xdist") or hasattr(config, "workerinput"):
        return
    if config.option.numprocesses is None and config.option.dist == "no":
        config.option.numprocesses = 2
        config.option.dist = "loadfile"
        config.option.tx = ["popen"] * 2


# Each folder's tier; the crash, deployments and production modules mark themselves.
_TIERS = {
    "orchestration": "server",
    "cli": "server",
    "bench": "bench",
    "crash": "crash",  # and the modules there that mark themselves too
    "deployments": None,
    "production": None,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its folder's tier: `fast` (no Prefect server), `server`, `bench`."""
    root = Path(__file__).parent
    for item in items:
        folder = item.path.relative_to(root).parts[0] if item.path.is_relative_to(root) else ""
        tier = _TIERS.get(folder, "fast")
        if tier is not None:
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An emulator that checks the API key and ends batches at once."""
    with Emulator(api_key=API_KEY) as emu:
        yield emu


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on loopback for this test."""
    with running_receiver() as server:
        yield server
