"""Process workers (`prefect worker start`) and SIGKILLing their process trees."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from tests.support.processes import (
    all_processes,
    descendants,
    flow_run_processes,
    marked_processes,
    surviving,
)
from tests.support.waiting import tail, wait_until

MIN_HEARTBEAT_FREQUENCY = 30
"""Smallest `PREFECT_FLOWS_HEARTBEAT_FREQUENCY` 3.9.1 accepts (and the engine's floor)."""


@dataclass
class Worker:
    """A `prefect worker start` subprocess (own session) serving one queue of the pool."""

    name: str
    queue: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 80) -> str:
        return tail(self.log_path, lines)

    def tree(self) -> list[int]:
        """The worker and every live process that descends from it or carries its mark.

        Once the worker is reaped its pid may be reused, so only the mark counts then."""
        pids = set(marked_processes(self.name))
        if self.process.poll() is None:
            processes = all_processes()
            pids.add(self.pid)
            pids.update(p for p in descendants(self.pid, processes) if processes[p].alive)
        return sorted(pids)

    def stop(self) -> None:
        """Teardown: SIGKILL the worker's tree (a test never needs a graceful stop)."""
        kill_worker_tree(self)


def kill_worker_tree(worker: Worker, timeout: float = 10.0) -> list[int]:
    """SIGKILL the worker and every descendant (the flow-run processes); return their pids.

    The process worker starts each flow run with `start_new_session=True` (the workspace
    supervisor, which execs `python -m prefect.engine`): flow-run processes are in their
    own session and process group, so `killpg(worker)` would leave them running. So the
    tree is found by walking ppid links in /proc (plus the worker's env mark, inherited by
    every descendant, which also finds processes already orphaned), frozen with SIGSTOP
    until no new process appears (nothing can fork or exit-and-reparent meanwhile), then
    SIGKILLed. Returns after every one of them is gone or a zombie.
    """
    stopped = _freeze_and_kill(worker.tree)
    with contextlib.suppress(subprocess.TimeoutExpired):
        worker.process.wait(timeout)  # reap our own child
    return _gone(stopped, timeout)


def kill_flow_run(flow_run_id: UUID | str, timeout: float = 10.0) -> list[int]:
    """SIGKILL only the flow run's own processes (its worker lives on); return their pids.

    Like a flow-run process killed by the OOM killer: the worker sees its child exit with
    -9 and reports the crash. The processes are found by `PREFECT__FLOW_RUN_ID` in their
    environment (`flow_run_processes`), frozen with SIGSTOP until no new one appears, then
    SIGKILLed; returns once every one of them is gone or a zombie."""
    return _gone(_freeze_and_kill(lambda: flow_run_processes(flow_run_id)), timeout)


def _freeze_and_kill(find: Callable[[], Iterable[int]]) -> set[int]:
    """SIGSTOP what `find` lists until it lists nothing new, then SIGKILL all of it."""
    stopped: set[int] = set()
    while True:
        new = [pid for pid in find() if pid not in stopped]
        if not new:
            break
        for pid in new:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
            stopped.add(pid)
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return stopped


def _gone(killed: set[int], timeout: float) -> list[int]:
    """`killed`, sorted, once every one of them is gone or a zombie."""
    wait_until(
        lambda: not surviving(killed),
        timeout,
        message=lambda: f"killed processes to go away: {surviving(killed)}",
    )
    return sorted(killed)
