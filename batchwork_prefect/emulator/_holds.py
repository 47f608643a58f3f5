"""Held responses: handler threads parked mid-body until a test releases them."""

from __future__ import annotations

import threading


class Holds:
    """Counts parked handler threads; ``release()`` frees all of them at once."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._held = 0
        self._generation = 0
        self._closed = False

    @property
    def held(self) -> int:
        """Responses currently held."""
        with self._condition:
            return self._held

    def hold(self) -> None:
        """Block the calling thread until the next ``release()`` (no-op once closed)."""
        with self._condition:
            if self._closed:
                return
            generation = self._generation
            self._held += 1
            self._condition.notify_all()
            self._condition.wait_for(lambda: self._generation != generation)

    def wait_held(self, count: int, timeout: float) -> bool:
        """Wait until at least ``count`` responses are held; ``False`` on timeout."""
        with self._condition:
            return self._condition.wait_for(lambda: self._held >= count, timeout)

    def release(self) -> int:
        """Free every held response; returns how many were held."""
        with self._condition:
            released, self._held = self._held, 0
            self._generation += 1
            self._condition.notify_all()
            return released

    def close(self) -> None:
        """Release everything and stop holding from now on."""
        with self._condition:
            self._closed = True
        self.release()
