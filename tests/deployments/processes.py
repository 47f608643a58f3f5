"""Processes for the Deployments walkthrough (docs/deployments.md): a shell, its background
commands, teardown."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import kill_tree, spawn, tail


@dataclass
class Background:
    """A long-running command of the walkthrough, started in its own process group."""

    line: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self) -> str:
        return f"--- {self.line} ---\n{tail(self.log_path)}"

    def stop(self) -> None:
        """SIGKILL it and everything under it (flow runs a worker started, in their own
        sessions, are found through /proc), and reap it."""
        kill_tree(self.process)


@dataclass
class Shell:
    """Runs walkthrough lines with bash in one directory and environment, each after the
    lines that set the shell up (`prelude`: the virtualenv's activation, variables), as one
    terminal would."""

    cwd: Path
    env: dict[str, str]
    log_dir: Path
    prelude: list[str] = field(default_factory=list)
    background: list[Background] = field(default_factory=list)
    timings: list[tuple[float, str]] = field(default_factory=list)
    """Seconds each line took to run (a background line: to start), for a slow run's report."""

    def script(self, line: str) -> str:
        """`line` after the prelude, `set -e` so that a failing prelude line stops it."""
        return "\n".join(["set -e", *self.prelude, line])

    def run(self, line: str, timeout: float = 180.0, *, exit_code: int = 0) -> str:
        """Run `line` to its end; return its output, or fail showing it unless it exited
        with `exit_code`."""
        started = time.monotonic()
        result = subprocess.run(
            ["bash", "-c", self.script(line)],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        output = result.stdout + result.stderr
        self.timings.append((time.monotonic() - started, line))
        assert result.returncode == exit_code, (
            f"`{line}` exited {result.returncode}:\n{output[-4000:]}\n" + self.logs()
        )
        return output

    def start(self, line: str, command: str) -> Background:
        """Start `command` (the line without its `&`) in the background, logging to a file."""
        log_path = self.log_dir / f"background-{len(self.background)}.log"
        process = spawn(
            ["bash", "-c", self.script(f"exec {command}")], log_path, env=self.env, cwd=self.cwd
        )
        job = Background(line=line, process=process, log_path=log_path)
        self.background.append(job)
        return job

    def logs(self) -> str:
        return "\n".join(job.tail() for job in self.background)

    def stop(self) -> None:
        """Stop the background commands, the last started first (the worker before the
        server it reports to)."""
        for job in reversed(self.background):
            job.stop()
