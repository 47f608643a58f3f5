"""Helpers for the crash matrix: a real `prefect server start`, process workers, SIGKILL.

Everything here talks to the crash server explicitly: CLI subprocesses get their own
environment (`Cluster.env()`), and client calls run inside `Cluster.settings()`, a
`temporary_settings` block (a context variable, so it is per thread and leaves the
in-process `prefect_test_harness` of `tests/prefect_layer` alone). Every helper enters it
itself, so helpers can be called from any thread.

Findings (prefect 3.9.1, measured on this 2-core box; they decide how crash tests are written)
------------------------------------------------------------------------------------------
a. Steering a run to a queue: yes. `run_deployment(name, ..., timeout=0,
   work_queue_name=q)` exists in 3.9.1 and passes `work_queue_name` to
   `create_flow_run_from_deployment`; the server resolves the name inside the deployment's
   work pool (server/api/deployments.py: create_flow_run_from_deployment), so the run lands
   on queue `q` of pool `batchwork` and only a worker started with `--work-queue q` picks
   it up [verified: test_capital_cities_completes_on_the_worker_of_its_queue, a worker on
   another queue of the pool polls meanwhile and never touches it]. The queue must exist;
   `create_pool_and_queues` creates `crash-a`..`crash-h`, `claim_queue` hands out fresh ones.
b. Heartbeats: `PREFECT_FLOWS_HEARTBEAT_FREQUENCY` has `ge=30` (settings/models/flows.py;
   29 fails settings validation in the flow process) and the engine clamps to
   `MINIMUM_HEARTBEAT_INTERVAL = 30` (flow_engine.py); the default is 180. The heartbeat
   thread emits first and then sleeps, and starts with the flow body (`run_context`, right
   after the Running state): the first `prefect.flow-run.heartbeat` came 0.08 s after
   Running; later gaps measured 30.01-30.02 s. Subflows (run-batch inside capital-cities)
   emit their own heartbeats. The process worker hands its environment to the flow process,
   so the frequency is set per worker: `start_worker(heartbeat_frequency=30)` (default).
c. Zombie automation (Prefect's recipe; `orchestration.automations`) on `prefect server start`:
   works when the worker AND the flow process are SIGKILLed. Proactive triggers are checked
   every `PREFECT_SERVER_EVENTS_PROACTIVE_GRANULARITY` (default 5 s: the perpetual service
   `evaluate_proactive_triggers_periodic`, server/events/services/triggers.py; an ISO
   duration such as "PT1S" in the env, a bare "1" is rejected); this server uses 1 s.
   Proactive `within` must be >= 10 s (events/schemas/automations.py) and, so a live run is
   never marked Crashed, longer than the 30 s heartbeat gap. Measured: Crashed 35.6 s after
   the last heartbeat with within=35 s (32.4 s after the kill), 45.8 s with within=45 s
   (43.9 s after the kill): Crashed = last heartbeat + within + <1 s, i.e. within-30 ..
   within seconds after a kill. A live run on another queue was never hit with 35 s;
   45 s leaves 15 s for a loaded box (the matrix installs it with --zombie-after 45).
   The run's subflow (no tags) is marked Crashed too, and stays so; the rerun creates a
   new subflow run.
d. `ChangeFlowRunState` has `force: bool = False` in 3.9.1 (client and server action; the
   server passes it to `set_flow_run_state(..., force=...)`). the resume automation
   (`prefect.flow-run.Crashed` with related `prefect.tag.batchwork` -> SCHEDULED
   "AwaitingRetry", force=True) fired 0.2-0.4 s after Crashed; a worker started then
   picked the run up (run_count 2), the submit step was `Cached` and the run Completed.
   History: Scheduled, Pending, Submitting, Running, Crashed, AwaitingRetry, Pending,
   Submitting, Running, Completed.
e. Timings: `prefect server start` to healthy 7-10 s (UI off, fresh SQLite); pool + 8 queues
   via the client 0.5 s; `prefect --no-prompt deploy --all` (3 deployments) 2.4 s; worker
   start to registered 1.9 s; run created to picked up (Pending) 0.6 s with 1 s polling;
   Pending to Running (flow-run process start, pull step, imports) 2.4-2.5 s; a whole
   capital-cities run on an ending batch 5 s; `kill_worker_tree` 0.02-0.3 s.

Process tree: the process worker starts each flow run as `python -m
prefect.runner._workspace_supervisor` with `start_new_session=True`
(runner/_workspace_starter.py `isolate_process_group`, runner/_starter_engine.py), which
execs `python -m prefect.engine` in place: one child per flow run, in its own session and
process group (observed sid = pgid = pid), so `killpg(worker)` does not reach it.
`kill_worker_tree` walks /proc instead (and also handles children in the worker's group).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.deployments import run_deployment
from prefect.exceptions import ObjectAlreadyExists
from prefect.settings import PREFECT_API_URL, temporary_settings

from batchwork_prefect.emulator import Emulator

REPO_ROOT = Path(__file__).resolve().parents[2]
# The interpreter's scripts directory: the `prefect` CLI of the environment running the
# tests, whether or not that environment is on PATH (CI runs `.venv/bin/python -m pytest`).
BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect")
POOL = "batchwork"
QUEUES = tuple(f"crash-{letter}" for letter in "abcdefgh")
"""One queue per concurrently running case, so each case's worker only sees its own runs."""

WORKER_MARK = "BATCHWORK_CRASH_WORKER"
"""Env var set on each worker; the flow-run processes inherit it (found even if orphaned)."""

MIN_HEARTBEAT_FREQUENCY = 30
ZOMBIE_AFTER_SECONDS = 45
"""`install-automations --zombie-after` for the crash tests: 1.5 heartbeat gaps."""
"""Smallest `PREFECT_FLOWS_HEARTBEAT_FREQUENCY` 3.9.1 accepts (and the engine's floor)."""

PROACTIVE_GRANULARITY_SECONDS = 1
"""How often the crash server evaluates proactive triggers (Prefect's default is 5)."""

T = TypeVar("T")


class Timeout(AssertionError):
    """A `wait_until` condition did not hold before its deadline."""


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
            raise Timeout(f"timed out after {timeout:.0f} s waiting for {text}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**updates: str) -> dict[str, str]:
    """This process's environment without any PREFECT_* variable, plus `updates`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT")}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.update(updates)
    return env


def tail(path: Path, lines: int = 60) -> str:
    """The last lines of a log file (empty if it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


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


# --- /proc ------------------------------------------------------------------------------


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


# --- the server -------------------------------------------------------------------------


@dataclass
class PrefectServer:
    """A `prefect server start` subprocess in its own session."""

    process: subprocess.Popen[bytes]
    port: int
    home: Path
    log_path: Path
    started_in: float = 0.0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        stop_process_group(self.process)


def server_env(home: Path, **overrides: str) -> dict[str, str]:
    """Environment of the crash server: its own home and SQLite DB, quiet, automations on.

    `overrides` replace any of these (e.g. the database URL of a PostgreSQL database)."""
    env = clean_env(
        PREFECT_HOME=str(home),
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home}/prefect.db",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
        PREFECT_LOGGING_LEVEL="WARNING",
        # No cron schedules to create, and no "Late" renaming of AwaitingRetry runs that
        # wait for a worker: state names stay what the tests set. Triggers, actions, the
        # event persister and the task-run recorder stay on (their defaults).
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
        PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED="false",
        PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED="true",
        PREFECT_SERVER_EVENTS_PROACTIVE_GRANULARITY=f"PT{PROACTIVE_GRANULARITY_SECONDS}S",
    )
    env.update(overrides)
    return env


def start_server(
    home: Path, *, port: int | None = None, timeout: float = 120.0, **env: str
) -> PrefectServer:
    """Start `prefect server start` on loopback and wait until `/api/health` answers.

    `env` overrides the server's environment (`server_env`). Without `port`, a free port
    is picked, and another one if the server dies at start (someone took the port)."""
    for attempt in range(3):
        try:
            return _start_server(home, port or free_port(), timeout, env)
        except ServerExited:
            if port is not None or attempt == 2:
                raise
    raise AssertionError("unreachable")


class ServerExited(RuntimeError):
    """`prefect server start` exited before it became healthy."""


def _start_server(home: Path, port: int, timeout: float, env: Mapping[str, str]) -> PrefectServer:
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "server.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=server_env(home, **env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=home,
            start_new_session=True,
        )
    server = PrefectServer(process=process, port=port, home=home, log_path=log_path)

    def up() -> bool:
        if process.poll() is not None:
            raise ServerExited(
                f"prefect server exited with {process.returncode}:\n{tail(log_path)}"
            )
        return server.healthy()

    try:
        wait_until(up, timeout, interval=0.5, message=lambda: f"server health\n{tail(log_path)}")
    except BaseException:
        server.stop()
        raise
    server.started_in = time.monotonic() - started
    return server


# --- workers ----------------------------------------------------------------------------


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


def surviving(pids: Iterable[int]) -> list[int]:
    """Those of `pids` that still run (zombies count as dead)."""
    return [pid for pid in pids if (info := proc_info(pid)) is not None and info.alive]


# --- the cluster ------------------------------------------------------------------------


@dataclass
class Cluster:
    """The crash server plus everything needed to deploy and run flows on it."""

    server: PrefectServer
    client_home: Path
    """PREFECT_HOME of the CLI, the workers and their flow runs (result storage inside):
    shared by every worker, so a rerun on another worker finds the persisted submit."""
    log_dir: Path
    project_dir: Path = REPO_ROOT
    queues: list[str] = field(default_factory=lambda: list(QUEUES))
    """Queues of the pool not yet handed out by `claim_queue` (created up front)."""
    workers: list[Worker] = field(default_factory=list)
    automations: list[UUID] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    _queue_counter: int = 0

    @property
    def api_url(self) -> str:
        return self.server.api_url

    @property
    def storage_path(self) -> Path:
        return self.client_home / "storage"

    # settings and CLI

    def env(self, **updates: str) -> dict[str, str]:
        """Environment for a Prefect CLI subprocess (deploy, worker) talking to this server."""
        return clean_env(
            PREFECT_API_URL=self.api_url,
            PREFECT_HOME=str(self.client_home),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            BATCHWORK_PROJECT_DIR=str(self.project_dir),
            PYTHONUNBUFFERED="1",
            **updates,
        )

    def settings(self) -> contextlib.AbstractContextManager[Any]:
        """`temporary_settings` pointing this thread's Prefect client at the crash server."""
        return temporary_settings(updates={PREFECT_API_URL: self.api_url})

    def prefect(self, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        """Run `prefect <args>` from the repo root; raise with its output if it fails."""
        result = subprocess.run(
            [PREFECT, *args],
            env=self.env(),
            cwd=self.project_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"prefect {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    # pool, queues, deployments, blocks

    def create_pool_and_queues(self, queues: Iterable[str] = QUEUES, pool: str = POOL) -> None:
        """Create the process work pool and its queues (existing ones are kept)."""
        from prefect.workers.process import ProcessWorker

        template = ProcessWorker.get_default_base_job_template()
        with self.settings(), get_client(sync_client=True) as client:
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_work_pool(
                    WorkPoolCreate(name=pool, type="process", base_job_template=template)
                )
            for queue in queues:
                with contextlib.suppress(ObjectAlreadyExists):
                    client.create_work_queue(name=queue, work_pool_name=pool)

    def claim_queue(self) -> str:
        """A queue of the pool no other case has used in this session (created if needed).

        A fresh queue per case keeps a run left Scheduled by one case away from the workers
        of the next one."""
        if self.queues:
            return self.queues.pop(0)
        self._queue_counter += 1
        queue = f"crash-x{self._queue_counter}"
        self.create_pool_and_queues([queue])
        return queue

    def deploy(self) -> None:
        """`prefect --no-prompt deploy --all` from the repo root (its prefect.yaml)."""
        self.prefect("--no-prompt", "deploy", "--all")

    def save_credentials(self, base_url: str, api_key: str, name: str = "anthropic") -> None:
        """Save an `AnthropicCredentials` block `name` pointing at `base_url` (overwrite)."""
        from batchwork_prefect import AnthropicCredentials

        with self.settings():
            AnthropicCredentials(api_key=api_key, base_url=base_url).save(name, overwrite=True)

    # workers

    def start_worker(
        self,
        queue: str,
        name: str | None = None,
        *,
        heartbeat_frequency: int | None = MIN_HEARTBEAT_FREQUENCY,
        env: Mapping[str, str] | None = None,
        wait_ready: bool = True,
        timeout: float = 60.0,
    ) -> Worker:
        """Start a process worker for `queue` of the pool, polling every second.

        `heartbeat_frequency` becomes the flow runs' `PREFECT_FLOWS_HEARTBEAT_FREQUENCY`
        (None: Prefect's default of 180 s) unless the deployment's `job_variables.env` sets
        it (prefect.yaml does, to 30): the job env is applied over the worker's env.
        With `wait_ready`, return once the worker has registered with the server (so a run
        created now is picked up within ~1 s).
        """
        name = name or f"{queue}-{uuid.uuid4().hex[:6]}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"worker-{name}.log"
        extra = {
            WORKER_MARK: name,
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            "PREFECT_WORKER_PREFETCH_SECONDS": "1",
            "PREFECT_WORKER_HEARTBEAT_SECONDS": "5",
            "PREFECT_WORKER_CANCELLATION_POLL_SECONDS": "2",
            **(
                {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(heartbeat_frequency)}
                if heartbeat_frequency is not None
                else {}
            ),
            **(env or {}),
        }
        command = [PREFECT, "worker", "start", "--pool", POOL, "--work-queue", queue]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [*command, "--name", name],
                env=self.env(**extra),
                cwd=self.project_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(name=name, queue=queue, process=process, log_path=log_path)
        self.workers.append(worker)
        if wait_ready:

            def registered() -> bool:
                if not worker.alive():
                    raise RuntimeError(f"worker {name} exited:\n{worker.tail()}")
                return name in self.worker_names()

            wait_until(
                registered,
                timeout,
                interval=0.5,
                message=lambda: f"worker {name} to register\n{worker.tail()}",
            )
        return worker

    def worker_names(self, pool: str = POOL) -> set[str]:
        """Names of the workers that have sent a heartbeat to the pool."""
        with self.settings(), get_client(sync_client=True) as client:
            return {w.name for w in client.read_workers_for_work_pool(pool)}

    def worker_running(self, flow_run_id: UUID | str) -> Worker | None:
        """The worker whose flow-run process currently runs `flow_run_id`, if any."""
        for pid in flow_run_processes(flow_run_id):
            mark = proc_environ(pid).get(WORKER_MARK)
            for worker in self.workers:
                if worker.name == mark or pid in descendants(worker.pid):
                    return worker
        return None

    def stop_workers(self, keep: int = 0) -> None:
        """SIGKILL the trees of the workers this cluster started, but the first `keep`."""
        while len(self.workers) > keep:
            self.workers.pop().stop()

    def worker_logs(self, lines: int = 80) -> str:
        return "\n".join(f"--- worker {w.name} ---\n{w.tail(lines)}" for w in self.workers)

    # flow runs

    def run_deployment(
        self,
        name: str,
        queue: str,
        parameters: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> FlowRun:
        """Create a flow run of deployment `flow/deployment` on `queue`; return at once."""
        with self.settings():
            run = run_deployment(
                name,
                parameters=dict(parameters or {}),
                timeout=0,
                work_queue_name=queue,
                as_subflow=False,
                _sync=True,  # type: ignore[call-arg]  # async_dispatch: sync even in a loop
                **kwargs,
            )
        assert isinstance(run, FlowRun)
        return run

    def read_flow_run(self, flow_run_id: UUID | str) -> FlowRun:
        with self.settings(), get_client(sync_client=True) as client:
            return client.read_flow_run(UUID(str(flow_run_id)))

    def read_states(self, flow_run_id: UUID | str) -> list[State]:
        """The flow run's state history, oldest first."""
        with self.settings(), get_client(sync_client=True) as client:
            states = client.read_flow_run_states(UUID(str(flow_run_id)))
        return sorted(states, key=lambda state: state.timestamp)

    def state_names(self, flow_run_id: UUID | str) -> list[str]:
        return [str(state.name) for state in self.read_states(flow_run_id)]

    def history(self, flow_run_id: UUID | str) -> list[tuple[str | None, str | None]]:
        """The run's (name, message) states, oldest first: what `automatic_resumes` reads."""
        return [(state.name, state.message) for state in self.read_states(flow_run_id)]

    def wait_for_state(
        self,
        flow_run_id: UUID | str,
        state_type: StateType | Iterable[StateType] | None = None,
        name: str | None = None,
        *,
        timeout: float = 120.0,
        interval: float = 0.5,
        fail_on_final: bool = True,
        crash_is_final: bool = True,
    ) -> FlowRun:
        """Poll until the run is in a state of `state_type` (and `name`); return the run.

        With `fail_on_final`, a final state that is not the wanted one fails at once (with
        the state history and the worker logs) instead of waiting for the deadline; but
        Crashed is waited through when not `crash_is_final` (an automation resumes it).
        """
        types = (
            set()
            if state_type is None
            else {state_type}
            if isinstance(state_type, StateType)
            else set(state_type)
        )
        last: list[FlowRun] = []

        def reached() -> FlowRun | None:
            run = self.read_flow_run(flow_run_id)
            last[:] = [run]
            state = run.state
            if state is None:
                return None
            if (not types or state.type in types) and (name is None or state.name == name):
                return run
            resumable = not crash_is_final and state.type == StateType.CRASHED
            if fail_on_final and state.is_final() and not resumable:
                raise AssertionError(self._describe(run, types, name))
            return None

        try:
            return wait_until(reached, timeout, interval=interval)
        except Timeout as exc:
            raise Timeout(
                self._describe(last[0] if last else None, types, name, timeout=timeout)
            ) from exc

    def wait_for_history(
        self,
        flow_run_id: UUID | str,
        name: str,
        *,
        after: Any = None,
        timeout: float = 120.0,
        interval: float = 0.5,
    ) -> State:
        """Poll until a state named `name` (newer than `after`, a datetime) is in the run's
        history; return it. For states an automation replaces at once (Crashed)."""

        def found() -> State | None:
            for state in self.read_states(flow_run_id):
                if state.name == name and (after is None or state.timestamp > after):
                    return state
            return None

        try:
            return wait_until(found, timeout, interval=interval)
        except Timeout as exc:
            raise Timeout(
                f"no {name!r} state in {timeout:.0f} s; history: "
                f"{self.state_names(flow_run_id)}\n{self.worker_logs()}"
            ) from exc

    def subflow_runs(self, flow_run_id: UUID | str) -> list[FlowRun]:
        """The flow runs whose parent task run belongs to `flow_run_id` (its subflows)."""
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

        filter_ = FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[UUID(str(flow_run_id))])
        )
        with self.settings(), get_client(sync_client=True) as client:
            return client.read_flow_runs(flow_run_filter=filter_)

    def _describe(
        self,
        run: FlowRun | None,
        types: set[StateType],
        name: str | None,
        timeout: float | None = None,
    ) -> str:
        wanted = f"{sorted(t.value for t in types) or 'any'} {name or ''}".strip()
        head = f"timed out after {timeout:.0f} s" if timeout else "final state"
        if run is None:
            return f"{head}: flow run never read; wanted {wanted}"
        message = run.state.message if run.state else None
        return (
            f"{head}: flow run {run.id} is {run.state_type} {run.state_name!r} "
            f"({message!r}); wanted {wanted}\n"
            f"history: {self.state_names(run.id)}\n{self.worker_logs()}"
        )

    def force_state(self, flow_run_id: UUID | str, state: State) -> None:
        """`set_flow_run_state(..., force=True)`; fail unless the server accepted it."""
        with self.settings(), get_client(sync_client=True) as client:
            result = client.set_flow_run_state(UUID(str(flow_run_id)), state, force=True)
        if result.status.value != "ACCEPT":
            raise AssertionError(f"state {state.name} not accepted: {result.details}")

    def retry_from_ui(self, flow_run_id: UUID | str) -> None:
        """What the UI's Retry button does: force the run to Scheduled/AwaitingRetry."""
        self.force_state(
            flow_run_id,
            State(type=StateType.SCHEDULED, name="AwaitingRetry", message="Retry from the UI"),
        )

    def read_events(self, flow_run_id: UUID | str, names: Iterable[str] | None = None) -> list[Any]:
        """Events about the flow run (resource `prefect.flow-run.<id>`), oldest first."""
        from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

        filter_ = EventFilter(
            resource=EventResourceFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
            event=EventNameFilter(name=list(names)) if names else None,
        )
        with self.settings(), get_client(sync_client=True) as client:
            page = client.read_events(filter=filter_, limit=50)  # the server caps at 50
            events = list(page.events)
            while page.next_page:
                page = client.read_events_page(str(page.next_page))
                events.extend(page.events)
        return sorted(events, key=lambda event: event.occurred)

    def worker_finished(self, flow_run_id: UUID | str) -> bool:
        """Whether a worker has finished with the run's process: it has reported how the
        process ended (a crash report included) and emitted `executed-flow-run`."""
        from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

        filter_ = EventFilter(
            related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
            event=EventNameFilter(name=["prefect.worker.executed-flow-run"]),
        )
        with self.settings(), get_client(sync_client=True) as client:
            return bool(client.read_events(filter=filter_, limit=50).events)

    # automations

    def install_automations(self) -> list[str]:
        """`batchwork-prefect install-automations --zombie-after 45`, run as a user would;
        returns the names it installed (checked against its output)."""
        from batchwork_prefect.orchestration.automations import automations

        command = [sys.executable, "-m", "batchwork_prefect.cli", "install-automations"]
        command += ["--zombie-after", str(ZOMBIE_AFTER_SECONDS)]
        output = subprocess.run(
            command, env=self.env(), capture_output=True, text=True, check=True, timeout=120
        ).stdout
        names = [automation.name for automation in automations()]
        assert all(name in output for name in names), output
        return names

    def uninstall_automations(self, names: Iterable[str]) -> None:
        """Delete the automations with these names."""
        with self.settings(), get_client(sync_client=True) as client:
            for name in names:
                for automation in client.read_automations_by_name(name):
                    client.delete_automation(automation.id)

    def create_automation(self, automation: Any) -> UUID:
        """Create an `AutomationCore` on the server (remembered for `delete_automations`)."""
        with self.settings(), get_client(sync_client=True) as client:
            automation_id = client.create_automation(automation)
        self.automations.append(automation_id)
        return automation_id

    def delete_automations(self, keep: int = 0) -> None:
        """Delete the automations created through `create_automation`, but the first `keep`."""
        with self.settings(), get_client(sync_client=True) as client:
            while len(self.automations) > keep:
                client.delete_automation(self.automations.pop())


@contextlib.contextmanager
def emulators(cluster: Cluster, api_key: str) -> Iterator[Callable[..., Emulator]]:
    """`make(block, **Emulator kwargs)`: an emulator on loopback checking `api_key`, and a
    credentials block `block` on the cluster pointing at it; all stopped on exit."""
    started: list[Emulator] = []

    def make(block: str = "anthropic", **kwargs: Any) -> Emulator:
        emulator = Emulator(api_key=api_key, **kwargs).start()
        started.append(emulator)
        cluster.save_credentials(emulator.base_url, api_key, name=block)
        return emulator

    try:
        yield make
    finally:
        for emulator in started:
            emulator.stop()


def start_cluster(
    base: Path,
    *,
    queues: Sequence[str] = QUEUES,
    server_env: Mapping[str, str] | None = None,
) -> Cluster:
    """Start a server under `base`, create the pool and queues, deploy prefect.yaml.

    `server_env` overrides the server's environment (`server_env()`), e.g. its
    `PREFECT_API_DATABASE_CONNECTION_URL` for a PostgreSQL database."""
    server = start_server(base / "server-home", **dict(server_env or {}))
    cluster = Cluster(
        server=server,
        client_home=base / "client-home",
        log_dir=base / "logs",
        queues=list(queues),
    )
    cluster.timings["server_healthy"] = server.started_in
    try:
        started = time.monotonic()
        cluster.create_pool_and_queues(queues)
        cluster.timings["pool_and_queues"] = time.monotonic() - started
        started = time.monotonic()
        cluster.deploy()
        cluster.timings["deploy"] = time.monotonic() - started
    except BaseException:
        print(f"--- server log ---\n{tail(server.log_path)}", file=sys.stderr)
        server.stop()
        raise
    return cluster


@contextlib.contextmanager
def running_cluster(
    base: Path,
    *,
    queues: Sequence[str] = QUEUES,
    server_env: Mapping[str, str] | None = None,
) -> Iterator[Cluster]:
    """`start_cluster`, then stop every worker and the server on exit."""
    cluster = start_cluster(base, queues=queues, server_env=server_env)
    try:
        yield cluster
    finally:
        try:
            cluster.stop_workers()
        finally:
            cluster.server.stop()
