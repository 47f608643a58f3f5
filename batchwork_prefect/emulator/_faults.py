"""Injected faults: the public ``Fault`` description and a per-route FIFO queue."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from ._table import CREATE_ROUTES, ROUTE_NAMES

ROUTES: frozenset[str] = ROUTE_NAMES


@dataclass(frozen=True)
class Fault:
    """A queued misbehaviour for the next ``times`` requests on ``route``.

    ``status``/``body``/``retry_after``/``retry_after_ms``/``should_retry`` shape an error
    response sent instead of the real one. ``truncate_after_bytes`` instead sends the real
    response (e.g. 200 results) with its full ``content-length`` but hangs up after that many
    body bytes. ``after_create`` (the create routes only: ``create``,
    ``openai.batches.create``, ``openai.files.create``) stores the batch or file first and
    then answers with the fault; by default a faulted create stores nothing.
    ``hold_after_bytes`` also sends the real response (on any route, whatever its status;
    a create is stored) but parks it after that many body bytes until ``Emulator.release()``;
    it cannot be combined with the error-shaping fields or ``truncate_after_bytes``.
    """

    route: str
    status: int = 500
    times: int = 1
    retry_after: float | None = None
    retry_after_ms: float | None = None
    should_retry: bool | None = None
    body: bytes | None = None
    truncate_after_bytes: int | None = None
    after_create: bool = False
    hold_after_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.route not in ROUTES:
            raise ValueError(f"unknown route {self.route!r}; expected one of {sorted(ROUTES)}")
        if self.times < 1:
            raise ValueError("times must be >= 1")
        if not 100 <= self.status <= 599:
            raise ValueError("status must be an HTTP status code")
        if self.truncate_after_bytes is not None and self.truncate_after_bytes < 0:
            raise ValueError("truncate_after_bytes must be >= 0")
        if self.after_create and self.route not in CREATE_ROUTES:
            raise ValueError(f"after_create only applies to the routes {sorted(CREATE_ROUTES)}")
        if self.hold_after_bytes is not None:
            self._check_hold(self.hold_after_bytes)

    def _check_hold(self, hold_after_bytes: int) -> None:
        if hold_after_bytes < 0:
            raise ValueError("hold_after_bytes must be >= 0")
        if self.truncate_after_bytes is not None:
            raise ValueError("hold_after_bytes cannot be combined with truncate_after_bytes")
        shaped = (self.retry_after, self.retry_after_ms, self.should_retry, self.body)
        if self.status != 500 or self.after_create or any(v is not None for v in shaped):
            raise ValueError(
                "hold_after_bytes sends the real response; it cannot be combined with "
                "status, body, retry headers or after_create"
            )


@dataclass
class _Slot:
    fault: Fault
    remaining: int


class FaultQueue:
    """Thread-safe FIFO of faults per route; each fault is used ``times`` times."""

    def __init__(self) -> None:
        self._queues: dict[str, deque[_Slot]] = {}
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Queue ``fault`` behind any already queued for its route."""
        with self._lock:
            self._queues.setdefault(fault.route, deque()).append(_Slot(fault, fault.times))

    def take(self, route: str) -> Fault | None:
        """Consume one use of the oldest fault queued for ``route``, if any."""
        with self._lock:
            queue = self._queues.get(route)
            if not queue:
                return None
            slot = queue[0]
            slot.remaining -= 1
            if slot.remaining <= 0:
                queue.popleft()
            return slot.fault

    def pending(self) -> int:
        """Number of fault uses still queued across all routes."""
        with self._lock:
            return sum(slot.remaining for queue in self._queues.values() for slot in queue)

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._queues.clear()
