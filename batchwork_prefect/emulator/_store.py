"""In-memory batch store with creation-order pagination (newest first)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Identified)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of batches, newest first."""

    batches: list[T]
    has_more: bool


class Store(Generic[T]):
    """Thread-safe id -> batch map; pagination walks from a cursor, never the whole store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, T] = {}
        self._order: list[str] = []  # creation order; deleted ids stay as tombstones
        self._position: dict[str, int] = {}

    def add(self, batch: T) -> None:
        """Store a newly created batch."""
        with self._lock:
            self._position[batch.id] = len(self._order)
            self._order.append(batch.id)
            self._by_id[batch.id] = batch

    def get(self, batch_id: str) -> T | None:
        """The batch, or ``None`` if unknown or deleted."""
        with self._lock:
            return self._by_id.get(batch_id)

    def delete(self, batch_id: str) -> bool:
        """Forget a batch; ``False`` if it was not stored."""
        with self._lock:
            return self._by_id.pop(batch_id, None) is not None

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_id)

    def page(self, limit: int, *, before_id: str | None, after_id: str | None) -> Page[T]:
        """Newest-first page: after ``after_id`` (older), before ``before_id`` (newer), or top."""
        with self._lock:
            if before_id is not None:
                return self._page_before(before_id, limit)
            start = len(self._order) if after_id is None else self._position.get(after_id)
            if start is None:
                return Page([], False)
            return self._walk(range(start - 1, -1, -1), limit)

    def _page_before(self, before_id: str, limit: int) -> Page[T]:
        position = self._position.get(before_id)
        if position is None:
            return Page([], False)
        page = self._walk(range(position + 1, len(self._order)), limit)
        page.batches.reverse()
        return page

    def _walk(self, positions: range, limit: int) -> Page[T]:
        found: list[T] = []
        for position in positions:
            batch = self._by_id.get(self._order[position])
            if batch is None:
                continue
            if len(found) == limit:
                return Page(found, True)
            found.append(batch)
        return Page(found, False)
