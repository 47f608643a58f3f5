"""Helpers shared by the tests: constants, clocks and servers (fixtures stay in conftest.py).

Tests import them absolutely, like everything under tests/: `from tests.support import ...`.
"""

from __future__ import annotations

from tests.support.emulated_time import API_KEY, EmulatedTime

__all__ = ["API_KEY", "EmulatedTime"]
