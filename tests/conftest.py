"""Shared fixtures: a real emulator on loopback and an emulated clock for waits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from batchwork_prefect.emulator import Emulator

# Property tests judge behaviour, never speed: a loaded CI machine must not fail them.
settings.register_profile("batchwork", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("batchwork")

API_KEY = "sk-ant-test-secret-0123456789"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """An emulator that checks the API key and ends batches at once."""
    with Emulator(api_key=API_KEY) as emu:
        yield emu


class EmulatedTime:
    """A clock and a sleep for `wait()` that move the emulator's time instead of waiting."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self._emulator.advance(seconds)

    def clock(self) -> float:
        return self.now
