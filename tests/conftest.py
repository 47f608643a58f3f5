"""Shared fixtures: a real emulator on loopback and a webhook receiver.

Shared constants and helpers live in `tests.support` (the API key, the emulated clock, the
receiver's class); tests import them from there, never from a conftest.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from batchwork_prefect.emulator import Emulator
from tests.support import API_KEY
from tests.support.webhooks import Receiver, running_receiver

# Property tests judge behaviour, never speed: a loaded CI machine must not fail them.
settings.register_profile("batchwork", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("batchwork")


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
