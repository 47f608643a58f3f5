"""Processes: started in their own session, read from /proc (trees, environments, marks),
stopped gracefully or frozen and SIGKILLed with everything under them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

from harness.waiting import wait_until

WORKER_MARK = "BATCHWORK_CRASH_WORKER"
"""Env var set on each worker; the flow-run processes inherit it (found even if orphaned)."""
FLOW_RUN_MARK = "PREFECT__FLOW_RUN_ID"
"""What Prefect's process worker sets in a flow run's environment."""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def spawn(
    command: list[str], log_path: Path, *, env: Mapping[str, str], cwd: Path, **popen: Any
) -> subprocess.Popen[bytes]:
    """Start `command` in a session of its own (so its group can be signalled apart from
    ours), stdin closed, stdout and stderr appended to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **popen,
        )


def stop_process_group(
    process: subprocess.Popen[bytes], timeout: float = 10.0, first: int = signal.SIGTERM
) -> None:
    """Send `first` (SIGTERM) to the process group led by `process`, SIGKILL it after
    `timeout`, reap it."""
    for sig, wait in ((first, timeout), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # Whatever is left of the group (children that outlived the leader).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass(frozen=True)
class ProcInfo:
    """One process as /proc shows it (times in clock ticks)."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    cmdline: tuple[str, ...]
    cpu_ticks: int = 0
    """User plus system time."""
    start_ticks: int = 0
    """When it started, since boot."""

    @property
    def alive(self) -> bool:
        """Not a zombie (a SIGKILLed orphan stays `Z` until init reaps it)."""
        return self.state not in ("Z", "X")

    @property
    def cpu_seconds(self) -> float:
        return self.cpu_ticks / CLOCK_TICKS

    @property
    def started_at(self) -> float:
        """The wall time it started."""
        uptime = float(Path("/proc/uptime").read_text(encoding="ascii").split()[0])
        return time.time() - (uptime - self.start_ticks / CLOCK_TICKS)


def proc_info(pid: int) -> ProcInfo | None:
    """`/proc/<pid>` of a process, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
        raw_cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # "pid (comm) state ppid pgrp session ..."; comm may contain spaces and parentheses.
    fields = stat[stat.rindex(")") + 2 :].split()
    return ProcInfo(
        pid=pid,
        state=fields[0],
        ppid=int(fields[1]),
        pgid=int(fields[2]),
        sid=int(fields[3]),
        cmdline=tuple(part.decode(errors="replace") for part in raw_cmd.split(b"\0") if part),
        cpu_ticks=int(fields[11]) + int(fields[12]),
        start_ticks=int(fields[19]),
    )


def cpu_seconds(pid: int) -> float | None:
    """The CPU time of `pid` so far (None once it is gone)."""
    info = proc_info(pid)
    return None if info is None else info.cpu_seconds


def all_processes() -> dict[int, ProcInfo]:
    """Every process currently in /proc."""
    result = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := proc_info(int(entry))) is not None:
            result[info.pid] = info
    return result


def proc_environ(pid: int) -> dict[str, str]:
    """The environment a process started with (empty if unreadable or gone)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return {}
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def descendants(pid: int, processes: Mapping[int, ProcInfo] | None = None) -> list[int]:
    """All descendants of `pid` (children, grandchildren, ...), walking ppid links."""
    processes = all_processes() if processes is None else processes
    children: dict[int, list[int]] = {}
    for info in processes.values():
        children.setdefault(info.ppid, []).append(info.pid)
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def find_processes(name: str, value: str | None = None) -> list[tuple[ProcInfo, str]]:
    """Live processes whose environment has `name` (equal to `value` if given), each with
    its value. Environments are read first: the cheap filter for a sampler's loop."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        marked = proc_environ(pid).get(name)
        if marked is None or (value is not None and marked != value):
            continue
        info = proc_info(pid)
        if info is not None and info.alive:
            found.append((info, marked))
    return found


def marked_processes(mark: str) -> list[int]:
    """Processes whose environment has `BATCHWORK_CRASH_WORKER=<mark>` (also orphans)."""
    return [info.pid for info, _ in find_processes(WORKER_MARK, mark)]


def flow_run_processes(flow_run_id: UUID | str) -> list[int]:
    """Live processes started for a flow run (`PREFECT__FLOW_RUN_ID` in their environment)."""
    return [info.pid for info, _ in find_processes(FLOW_RUN_MARK, str(flow_run_id))]


def surviving(pids: Iterable[int]) -> list[int]:
    """Those of `pids` that still run (zombies count as dead)."""
    return [pid for pid in pids if (info := proc_info(pid)) is not None and info.alive]


def process_tree(process: subprocess.Popen[bytes], mark: str | None = None) -> list[int]:
    """`process`, its live descendants and process group, and whatever carries `mark`
    (`WORKER_MARK`) in its environment.

    Once `process` is reaped its pid may be reused, so only the mark counts then."""
    pids = set(marked_processes(mark)) if mark is not None else set()
    if process.returncode is None:  # not reaped: its pid, and so its group, are still ours
        processes = all_processes()
        pids.add(process.pid)
        pids.update(p for p in descendants(process.pid, processes) if processes[p].alive)
        pids.update(p for p, i in processes.items() if i.pgid == process.pid and i.alive)
    return sorted(pids)


def kill_tree(
    process: subprocess.Popen[bytes], mark: str | None = None, timeout: float = 10.0
) -> list[int]:
    """SIGKILL `process_tree(process, mark)`, reap `process`; the pids, once all are gone.

    A worker's flow runs run in sessions of their own (Prefect's process worker starts them
    with `start_new_session=True`), so `killpg` alone would leave them running."""
    killed = freeze_and_kill(lambda: process_tree(process, mark))
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout)  # reap our own child
    return gone(killed, timeout)


def freeze_and_kill(find: Callable[[], Iterable[int]]) -> set[int]:
    """SIGSTOP what `find` lists until it lists nothing new (nothing can fork or exit and
    be reparented meanwhile), then SIGKILL all of it."""
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


def gone(killed: set[int], timeout: float) -> list[int]:
    """`killed`, sorted, once every one of them is gone or a zombie."""
    wait_until(
        lambda: not surviving(killed),
        timeout,
        message=lambda: f"killed processes to go away: {surviving(killed)}",
    )
    return sorted(killed)
