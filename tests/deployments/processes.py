"""Processes for the README walkthrough: a shell, background commands, polls, teardown."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | None],
    timeout: float,
    *,
    interval: float = 0.25,
    message: str | Callable[[], str] = "condition",
) -> T:
    """Poll `condition` until it returns a truthy value (returned) or `timeout` s pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {text}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file (empty if it does not exist)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def descendants(pid: int) -> list[int]:
    """Every live process under `pid` (children, grandchildren, ...), walking /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


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
        """SIGTERM the group, SIGKILL what is left (flow runs a worker started, in their own
        sessions, are found through /proc and killed too), and reap the leader."""
        strays = descendants(self.process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


@dataclass
class Shell:
    """Runs walkthrough lines with bash in one directory and environment."""

    cwd: Path
    env: dict[str, str]
    log_dir: Path
    background: list[Background] = field(default_factory=list)
    timings: list[tuple[float, str]] = field(default_factory=list)
    """Seconds each line took to run (a background line: to start), for a slow run's report."""

    def run(self, line: str, timeout: float = 180.0) -> str:
        """Run `line` to its end; return its output, or fail showing it."""
        started = time.monotonic()
        result = subprocess.run(
            ["bash", "-c", line],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        output = result.stdout + result.stderr
        self.timings.append((time.monotonic() - started, line))
        assert result.returncode == 0, (
            f"`{line}` exited {result.returncode}:\n{output[-4000:]}\n" + self.logs()
        )
        return output

    def start(self, line: str, command: str) -> Background:
        """Start `command` (the line without its `&`) in the background, logging to a file."""
        log_path = self.log_dir / f"background-{len(self.background)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                ["bash", "-c", f"exec {command}"],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
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
