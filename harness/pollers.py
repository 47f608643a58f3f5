"""`batchwork-prefect poller` processes on a server, started, stopped or killed."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.base import ClusterBase
from harness.processes import spawn, stop_process_group
from harness.server import BATCHWORK, REPO_ROOT
from harness.waiting import tail


@dataclass
class PollerProcess:
    """A `batchwork-prefect poller` subprocess (own session)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 80) -> str:
        return tail(self.log_path, lines)

    def stop(self) -> None:
        """SIGTERM, as a service manager stops it (SIGKILL if it hangs)."""
        stop_process_group(self.process)

    def kill(self) -> None:
        """SIGKILL, as a dead machine or an OOM kill would stop it: no clean-up runs."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


class Pollers(ClusterBase):
    """The poller helpers of `Cluster`: start, run once, read the status view."""

    def start_poller(
        self, name: str = "poller", *args: str, scan_seconds: float | None = 1
    ) -> PollerProcess:
        """Start `batchwork-prefect poller --scan-seconds 1 <args>` against this server
        (`scan_seconds=None`: the poller's defaults)."""
        scan = [] if scan_seconds is None else ["--scan-seconds", f"{scan_seconds:g}"]
        log_path = self.log_dir / f"{name}.log"
        process = spawn(
            [BATCHWORK, "poller", *scan, *args], log_path, env=self.env(), cwd=REPO_ROOT
        )
        poller = PollerProcess(name, process, log_path)
        self.pollers.append(poller)
        return poller

    def batchwork(self, *args: str) -> str:
        """Run `batchwork-prefect <args>` against this server; its stdout (fails loudly)."""
        done = subprocess.run(
            [BATCHWORK, *args],
            env=self.env(),
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, f"batchwork-prefect {args}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def stop_pollers(self) -> None:
        while self.pollers:
            self.pollers.pop().kill()

    def poller_logs(self, lines: int = 60) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.tail(lines)}" for p in self.pollers)
