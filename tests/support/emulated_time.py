"""The API key the test emulators check, and a clock that moves the emulator's time."""

from __future__ import annotations

from batchwork_prefect.emulator import Emulator

API_KEY = "sk-ant-test-secret-0123456789"
"""The key of the `emulator` fixture (tests/conftest.py) and the credentials tests build."""


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
