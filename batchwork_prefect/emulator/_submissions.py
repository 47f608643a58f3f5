"""How many times each ``custom_id`` has been submitted, for markers with a count.

A request counts once its batch is stored (at create time, not when results are read), so
its outcome is fixed then and reading the results again gives the same answer. One
counter per API: the Anthropic and OpenAI routes do not see each other's submissions.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence


class Submissions:
    """Thread-safe submission counts per ``custom_id``."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, custom_ids: Sequence[str]) -> list[int]:
        """Count one submission of each id; returns each one's number (1 for the first)."""
        with self._lock:
            numbers: list[int] = []
            for custom_id in custom_ids:
                self._counts[custom_id] += 1
                numbers.append(self._counts[custom_id])
            return numbers

    def count(self, custom_id: str) -> int:
        """Submissions of ``custom_id`` so far (0 if never submitted)."""
        with self._lock:
            return self._counts[custom_id]
