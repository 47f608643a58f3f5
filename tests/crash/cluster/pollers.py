"""`batchwork-prefect poller` processes on the crash server, started and killed by tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.crash.cluster.base import ClusterBase
from tests.crash.cluster.server import REPO_ROOT
from tests.support.waiting import tail

BATCHWORK = str(Path(sys.executable).with_name("batchwork-prefect"))


@dataclass
class PollerProcess:
    """A `batchwork-prefect poller` subprocess (own session)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 80) -> str:
        return tail(self.log_path, lines)

    def kill(self) -> None:
        """SIGKILL, as a dead machine or an OOM kill would stop it: no clean-up runs."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


class Pollers(ClusterBase):
    """The poller helpers of `Cluster`: start, run once, read the status view."""

    def start_poller(self, name: str = "poller", *args: str) -> PollerProcess:
        """Start `batchwork-prefect poller --scan-seconds 1 <args>` against this server."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [BATCHWORK, "poller", "--scan-seconds", "1", *args],
                env=self.env(),
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
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
