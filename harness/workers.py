"""Process workers (`prefect worker start`) and SIGKILLing their process trees."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

from harness.processes import (
    flow_run_processes,
    freeze_and_kill,
    gone,
    kill_tree,
    process_tree,
)
from harness.waiting import tail

MIN_HEARTBEAT_FREQUENCY = 30
"""Smallest `PREFECT_FLOWS_HEARTBEAT_FREQUENCY` 3.9.1 accepts (and the engine's floor)."""
QUICK_POLLING = {
    "PREFECT_WORKER_QUERY_SECONDS": "1",
    "PREFECT_WORKER_PREFETCH_SECONDS": "1",
    "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
    "PREFECT_WORKER_CANCELLATION_POLL_SECONDS": "2",
}
"""A worker that polls every second: a run created now is picked up within ~1 s."""


@dataclass
class Worker:
    """A `prefect worker start` subprocess (own session) serving one queue of the pool."""

    name: str
    queue: str | None
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
        """The worker and every live process that descends from it or carries its mark."""
        return process_tree(self.process, self.name)

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
    return kill_tree(worker.process, worker.name, timeout)


def kill_flow_run(flow_run_id: UUID | str, timeout: float = 10.0) -> list[int]:
    """SIGKILL only the flow run's own processes (its worker lives on); return their pids.

    Like a flow-run process killed by the OOM killer: the worker sees its child exit with
    -9 and reports the crash. The processes are found by `PREFECT__FLOW_RUN_ID` in their
    environment (`flow_run_processes`), frozen with SIGSTOP until no new one appears, then
    SIGKILLed; returns once every one of them is gone or a zombie."""
    return gone(freeze_and_kill(lambda: flow_run_processes(flow_run_id)), timeout)
