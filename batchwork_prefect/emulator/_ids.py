"""Seeded, thread-safe generators for the opaque ``<prefix>01<22 base62>`` identifiers."""

from __future__ import annotations

import random
import string
import threading

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def random_token(rng: random.Random) -> str:
    """24 base62 characters shaped like the real ones (``01`` + 22 random)."""
    return "01" + "".join(rng.choices(BASE62, k=22))


class IdFactory:
    """Deterministic id source; each ``stream`` name gets its own seeded sequence."""

    def __init__(self, seed: int, stream: str, salt: str = "") -> None:
        self._rng = random.Random(f"{seed}:{stream}{salt}")
        self._lock = threading.Lock()

    def make(self, prefix: str) -> str:
        """Next id, e.g. ``make("msgbatch_")``."""
        with self._lock:
            return prefix + random_token(self._rng)

    def make_base62(self, prefix: str, length: int = 22) -> str:
        """Next id as ``prefix`` + ``length`` base62 characters, e.g. ``file-...``."""
        with self._lock:
            return prefix + base62_token(self._rng, length)

    def make_hex(self, prefix: str) -> str:
        """Next id as ``prefix`` + 32 hex digits, e.g. OpenAI's ``req_...``."""
        with self._lock:
            return prefix + hex_token(self._rng)


def base62_token(rng: random.Random, length: int) -> str:
    """``length`` random base62 characters."""
    return "".join(rng.choices(BASE62, k=length))


def hex_token(rng: random.Random, length: int = 32) -> str:
    """``length`` lower-case hex digits (OpenAI's request ids and fingerprints)."""
    return "".join(rng.choices("0123456789abcdef", k=length))
