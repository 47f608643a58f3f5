"""What the release bench reads while a real deployment runs (harness/ starts it): /proc
samples of the processes a flow run holds, and the server's own log of Variable writes.

Nothing of the product is patched. The only observer on the server is a SQLite trigger that
logs each update of a Prefect Variable with the time it was written (see `VariableLog`).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.processes import FLOW_RUN_MARK, find_processes


@dataclass
class HeldProcess:
    """One process of a flow run, as sampled: when it started, when it was last seen alive,
    its CPU seconds at that sample."""

    pid: int
    run: str
    started: float
    last_seen: float
    cpu: float


@dataclass
class ProcessSampler:
    """Samples /proc every `interval` seconds for the processes whose environment carries
    `PREFECT__FLOW_RUN_ID` (what Prefect's process worker sets for a flow run's process)."""

    interval: float = 0.1
    held: dict[tuple[int, int], HeldProcess] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> ProcessSampler:
        self._thread = threading.Thread(target=self._loop, daemon=True, name="bench-sampler")
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        for info, run in find_processes(FLOW_RUN_MARK):
            now = time.time()
            key = (info.pid, info.start_ticks)
            found = self.held.get(key)
            if found is None:
                self.held[key] = HeldProcess(info.pid, run, info.started_at, now, info.cpu_seconds)
            else:
                found.last_seen, found.cpu = now, info.cpu_seconds

    def alive(self, run: str) -> bool:
        """Whether a process of `run` was seen in the last two samples."""
        recent = time.time() - 2.5 * self.interval - 0.2
        return any(p.run == run and p.last_seen >= recent for p in self.held.values())

    def of(self, run: str) -> list[HeldProcess]:
        return sorted((p for p in self.held.values() if p.run == run), key=lambda p: p.started)


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    """The length of the union of `intervals`."""
    total, end = 0.0, float("-inf")
    for start, stop_ in sorted(intervals):
        if stop_ <= end:
            continue
        total += stop_ - max(start, end)
        end = stop_
    return total


def overlap(intervals: list[tuple[float, float]], start: float, stop_: float) -> float:
    """How much of [start, stop_] the union of `intervals` covers."""
    clipped = [(max(a, start), min(b, stop_)) for a, b in intervals]
    return union_seconds([(a, b) for a, b in clipped if b > a])


@dataclass
class VariableLog:
    """Every write of a Prefect Variable, logged by SQLite triggers on the server's own
    database with the time the server wrote it: the poller's schedule written after each
    poll (its `polls` and `next_poll`; created at the first poll, replaced after), so each
    poll's time and schedule are read exactly, without a proxy in front of the poller or a
    change to it."""

    database: Path

    def install(self) -> None:
        with contextlib.closing(sqlite3.connect(self.database, timeout=60)) as db, db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS bench_variable_log (name TEXT, value TEXT, at REAL)"
            )
            for event in ("UPDATE", "INSERT"):
                db.execute(
                    f"CREATE TRIGGER IF NOT EXISTS bench_variable_log_{event.lower()} "
                    f"AFTER {event} ON variable BEGIN INSERT INTO bench_variable_log VALUES "
                    "(NEW.name, NEW.value, (julianday('now') - 2440587.5) * 86400.0); END"
                )

    def rows(self) -> list[tuple[str, dict[str, Any], float]]:
        """(variable name, its new value, the wall time it was written), oldest first."""
        with contextlib.closing(sqlite3.connect(self.database, timeout=60)) as db:
            found = db.execute("SELECT name, value, at FROM bench_variable_log ORDER BY at")
            return [(name, json.loads(value), at) for name, value, at in found.fetchall()]
