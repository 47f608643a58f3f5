"""Fixtures: a frozen-clock emulator and httpx clients bound to it (Anthropic, OpenAI)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator.emulator_helpers import HEADERS


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """An emulator whose clock only moves via ``advance()``."""
    with Emulator(time_scale=0) as emulator:
        yield emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    """An httpx client with the version and key headers set."""
    with httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=10) as http:
        yield http


@pytest.fixture
def oemu() -> Iterator[Emulator]:
    """A frozen-clock emulator whose batches take 60 emulated seconds."""
    with Emulator(time_scale=0, processing_seconds=60) as emulator:
        yield emulator


@pytest.fixture
def oclient(oemu: Emulator) -> Iterator[httpx.Client]:
    """An httpx client on the emulator's ``/v1`` (OpenAI's base URL)."""
    with httpx.Client(base_url=oemu.openai_base_url, timeout=10) as http:
        yield http
