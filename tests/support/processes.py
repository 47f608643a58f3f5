"""Processes as /proc shows them: trees, environments, marks, and stopping a group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

WORKER_MARK = "BATCHWORK_CRASH_WORKER"
"""Env var set on each worker; the flow-run processes inherit it (found even if orphaned)."""


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group led by `process`, SIGKILL it after `timeout`, reap it."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
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
    """One process as /proc shows it."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    state: str
    cmdline: tuple[str, ...]

    @property
    def alive(self) -> bool:
        """Not a zombie (a SIGKILLed orphan stays `Z` until init reaps it)."""
        return self.state not in ("Z", "X")


def proc_info(pid: int) -> ProcInfo | None:
    """`/proc/<pid>` of a process, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
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
    )


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
    """All live descendants of `pid` (children, grandchildren, ...), walking ppid links."""
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


def marked_processes(mark: str) -> list[int]:
    """Processes whose environment has `BATCHWORK_CRASH_WORKER=<mark>` (also orphans)."""
    return [
        pid
        for pid, info in all_processes().items()
        if info.alive and proc_environ(pid).get(WORKER_MARK) == mark
    ]


def flow_run_processes(flow_run_id: UUID | str) -> list[int]:
    """Live processes started for a flow run (`PREFECT__FLOW_RUN_ID` in their environment)."""
    wanted = str(flow_run_id)
    return [
        pid
        for pid, info in all_processes().items()
        if info.alive and proc_environ(pid).get("PREFECT__FLOW_RUN_ID") == wanted
    ]


def surviving(pids: Iterable[int]) -> list[int]:
    """Those of `pids` that still run (zombies count as dead)."""
    return [pid for pid in pids if (info := proc_info(pid)) is not None and info.alive]
