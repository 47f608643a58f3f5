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

    def __init__(self, seed: int, stream: str) -> None:
        self._rng = random.Random(f"{seed}:{stream}")
        self._lock = threading.Lock()

    def make(self, prefix: str) -> str:
        """Next id, e.g. ``make("msgbatch_")``."""
        with self._lock:
            return prefix + random_token(self._rng)
