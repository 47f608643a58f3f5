"""Emulated clock: real monotonic time scaled by ``time_scale`` plus manual ``advance()``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class EmulatedClock:
    """Thread-safe emulated clock counting seconds since the emulator was built."""

    def __init__(
        self,
        time_scale: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        epoch: datetime | None = None,
    ) -> None:
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self._scale = time_scale
        self._monotonic = monotonic
        self._start = monotonic()
        self._offset = 0.0
        self._epoch = epoch if epoch is not None else datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> float:
        """Emulated seconds elapsed since construction."""
        with self._lock:
            return self._offset + (self._monotonic() - self._start) * self._scale

    def advance(self, seconds: float) -> None:
        """Move the emulated clock forward by ``seconds`` (must be >= 0)."""
        if seconds < 0:
            raise ValueError("cannot move the emulated clock backwards")
        with self._lock:
            self._offset += seconds

    def to_datetime(self, emulated: float) -> datetime:
        """Wall-clock UTC datetime for an emulated instant."""
        return self._epoch + timedelta(seconds=emulated)


def rfc3339(moment: datetime) -> str:
    """RFC 3339 text with microseconds and a ``Z`` suffix, as the real API emits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
