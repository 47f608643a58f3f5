"""A real Prefect deployment for the release bench: `prefect server start` on a free loopback
port in a temporary PREFECT_HOME, the repo's `run-batch` deployment on a process work pool, a
`prefect worker start` and `batchwork-prefect poller` subprocesses; and /proc readings of the
processes a flow run holds.

Everything runs as a user would run it (the CLIs, the deployment from prefect.yaml); nothing
of the product is patched. The only observer on the server is a SQLite trigger that logs
each update of a Prefect Variable with the time it was written (see `VariableLog`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect")
BATCHWORK = str(BIN / "batchwork-prefect")
POOL = "batchwork"
DEPLOYMENT = "run-batch/run-batch"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def clean_env(**updates: str) -> dict[str, str]:
    """This process's environment without any PREFECT_* variable, plus `updates`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT")}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.update(updates)
    return env


def wait_for(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll `condition` until it returns something truthy; that value (TimeoutError after
    `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group `process` leads, SIGKILL it after `timeout`; reap it."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# /proc -------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of `pid` (None once it is gone)."""
    stat = _stat(pid)
    return None if stat is None else (int(stat[11]) + int(stat[12])) / CLOCK_TICKS


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (field 3, the state, first)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()


def _started_at(stat: list[str]) -> float:
    """The wall time a process started, from its start time in ticks since boot."""
    uptime = float(Path("/proc/uptime").read_text(encoding="ascii").split()[0])
    return time.time() - (uptime - int(stat[19]) / CLOCK_TICKS)


def _flow_run_of(pid: int) -> str | None:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    marker = b"PREFECT__FLOW_RUN_ID="
    for entry in environ.split(b"\0"):
        if entry.startswith(marker):
            return entry[len(marker) :].decode(errors="replace")
    return None


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
    held: dict[tuple[int, float], HeldProcess] = field(default_factory=dict)
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
        me = os.getpid()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == me:
                continue
            pid = int(entry.name)
            run = _flow_run_of(pid)
            stat = _stat(pid) if run else None
            if run is None or stat is None or stat[0] == "Z":
                continue
            now = time.time()
            cpu = (int(stat[11]) + int(stat[12])) / CLOCK_TICKS
            key = (pid, float(stat[19]))
            found = self.held.get(key)
            if found is None:
                self.held[key] = HeldProcess(pid, run, _started_at(stat), now, cpu)
            else:
                found.last_seen, found.cpu = now, cpu

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


# the server --------------------------------------------------------------------------------


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


@dataclass
class Cluster:
    """The server, the deployment and the worker; pollers on demand."""

    home: Path
    port: int
    server: subprocess.Popen[bytes]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started_in: float = 0.0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @property
    def database(self) -> Path:
        return self.home / "server" / "prefect.db"

    def env(self, **updates: str) -> dict[str, str]:
        """A Prefect client's environment (CLI, worker, poller) talking to this server."""
        return clean_env(
            PREFECT_API_URL=self.api_url,
            PREFECT_HOME=str(self.home / "client"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PYTHONUNBUFFERED="1",
            **updates,
        )

    def settings(self) -> contextlib.AbstractContextManager[Any]:
        """This thread's Prefect client pointed at this server."""
        from prefect.settings import PREFECT_API_URL, temporary_settings

        return temporary_settings(updates={PREFECT_API_URL: self.api_url})

    def spawn(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        """A subprocess of this cluster in its own session, its output in `<name>.log`."""
        with (self.home / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                env=self.env(),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return tail(self.home / f"{name}.log")

    def start_poller(self, name: str) -> subprocess.Popen[bytes]:
        """`batchwork-prefect poller` with its default settings."""
        return self.spawn(name, [BATCHWORK, "poller"])

    def stop_process(self, process: subprocess.Popen[bytes]) -> None:
        stop(process)
        if process in self.processes:
            self.processes.remove(process)


@contextlib.contextmanager
def running_cluster(home: Path) -> Iterator[Cluster]:
    """Start the server, create the pool, deploy `run-batch` and start one process worker
    (Prefect's default settings); stop them all on leaving."""
    started = time.monotonic()
    (home / "server").mkdir(parents=True)
    (home / "client").mkdir()
    port = free_port()
    server_env = clean_env(
        PREFECT_HOME=str(home / "server"),
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home}/server/prefect.db",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
    )
    with (home / "server.log").open("ab") as log:
        server = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env,
            cwd=home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    cluster = Cluster(home, port, server)
    try:

        def healthy() -> bool:
            if server.poll() is not None:
                raise RuntimeError(f"prefect server exited: {cluster.log('server')}")
            try:
                return httpx.get(f"{cluster.api_url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, 120, "the Prefect server")
        _create_pool(cluster)
        _run(cluster, [PREFECT, "--no-prompt", "deploy", "--name", "run-batch"])
        worker = cluster.spawn(
            "worker", [PREFECT, "worker", "start", "--pool", POOL, "--name", "bench-worker"]
        )
        wait_for(lambda: _registered(cluster, worker), 60, "the worker to register")
        cluster.started_in = time.monotonic() - started
        yield cluster
    finally:
        for process in reversed(cluster.processes):
            stop(process)
        stop(server)


def _create_pool(cluster: Cluster) -> None:
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    with cluster.settings(), get_client(sync_client=True) as client:
        pool = WorkPoolCreate(name=POOL, type="process", base_job_template=template)
        client.create_work_pool(pool)


def _registered(cluster: Cluster, worker: subprocess.Popen[bytes]) -> bool:
    from prefect import get_client

    if worker.poll() is not None:
        raise RuntimeError(f"the worker exited: {cluster.log('worker')}")
    with cluster.settings(), get_client(sync_client=True) as client:
        return any(w.name == "bench-worker" for w in client.read_workers_for_work_pool(POOL))


def _run(cluster: Cluster, command: list[str]) -> None:
    done = subprocess.run(
        command,
        env=cluster.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[1:])} failed: {done.stderr[-500:]}")
