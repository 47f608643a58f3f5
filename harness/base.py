"""`ClusterBase`: a server's client side, its pool and queues, deployments, workers.

`Cluster` (lifecycle.py) adds the flow-run helpers (runs.py) and the automations
(automations.py) to it.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists
from prefect.settings import PREFECT_API_URL, temporary_settings

from harness.processes import (
    WORKER_MARK,
    descendants,
    flow_run_processes,
    proc_environ,
    spawn,
)
from harness.server import PREFECT, REPO_ROOT, PrefectServer, prefect_env
from harness.waiting import wait_until
from harness.workers import MIN_HEARTBEAT_FREQUENCY, QUICK_POLLING, Worker

POOL = "batchwork"
QUEUES = tuple(f"crash-{letter}" for letter in "abcdefgh")
"""One queue per concurrently running case, so each case's worker only sees its own runs."""


@dataclass
class ClusterBase:
    """A server as its clients see it: settings, CLI, pool and queues, workers."""

    server: PrefectServer
    client_home: Path
    """PREFECT_HOME of the CLI, the workers and their flow runs (result storage inside):
    shared by every worker, so a rerun on another worker finds the persisted submit."""
    log_dir: Path
    project_dir: Path = REPO_ROOT
    queues: list[str] = field(default_factory=lambda: list(QUEUES))
    """Queues of the pool not yet handed out by `claim_queue` (created up front)."""
    workers: list[Worker] = field(default_factory=list)
    pollers: list[Any] = field(default_factory=list)
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
        return prefect_env(
            self.client_home, PREFECT_API_URL=self.api_url, PYTHONUNBUFFERED="1", **updates
        )

    def settings(self) -> contextlib.AbstractContextManager[Any]:
        """`temporary_settings` pointing this thread's Prefect client at this server."""
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

    def deploy(self, *names: str) -> None:
        """`prefect --no-prompt deploy` of these deployments of the repo's prefect.yaml (by
        default `--all`), from the repo root."""
        which = [part for name in names for part in ("--name", name)] or ["--all"]
        self.prefect("--no-prompt", "deploy", *which)

    def save_credentials(
        self, base_url: str, api_key: str, name: str = "anthropic", provider: str = "anthropic"
    ) -> None:
        """Save a credentials block of `provider` named `name` for `base_url` (overwrite)."""
        from batchwork_prefect.orchestration.credentials import credentials_block

        with self.settings():
            block = credentials_block(provider)(api_key=api_key, base_url=base_url)
            block.save(name, overwrite=True)

    # workers

    def start_worker(
        self,
        queue: str | None,
        name: str | None = None,
        *,
        heartbeat_frequency: int | None = MIN_HEARTBEAT_FREQUENCY,
        quick: bool = True,
        env: Mapping[str, str] | None = None,
        wait_ready: bool = True,
        timeout: float = 60.0,
        limit: int | None = None,
    ) -> Worker:
        """Start a process worker for `queue` of the pool (None: its default queue).

        `quick` polls every second (`QUICK_POLLING`); without it, Prefect's defaults.
        `heartbeat_frequency` becomes the flow runs' `PREFECT_FLOWS_HEARTBEAT_FREQUENCY`
        (None: Prefect's default of 180 s) unless the deployment's `job_variables.env` sets
        it (prefect.yaml does, to 30): the job env is applied over the worker's env.
        With `wait_ready`, return once the worker has registered with the server (so a run
        created now is picked up within ~1 s).
        """
        name = name or f"{queue}-{uuid.uuid4().hex[:6]}"
        log_path = self.log_dir / f"worker-{name}.log"
        extra = {
            WORKER_MARK: name,
            **(QUICK_POLLING if quick else {}),
            **(
                {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(heartbeat_frequency)}
                if heartbeat_frequency is not None
                else {}
            ),
            **(env or {}),
        }
        command = [PREFECT, "worker", "start", "--pool", POOL, "--name", name]
        if queue is not None:
            command += ["--work-queue", queue]
        if limit is not None:  # flow runs at once: the worker's slots
            command += ["--limit", str(limit)]
        process = spawn(command, log_path, env=self.env(**extra), cwd=self.project_dir)
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
