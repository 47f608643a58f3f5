"""`prefect server start` in a subprocess: its environment, start-up and health."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.ports import free_port
from tests.support.processes import stop_process_group
from tests.support.waiting import tail, wait_until

REPO_ROOT = Path(__file__).resolve().parents[3]
# The interpreter's scripts directory: the `prefect` CLI of the environment running the
# tests, whether or not that environment is on PATH (CI runs `.venv/bin/python -m pytest`).
BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect")

PROACTIVE_GRANULARITY_SECONDS = 1
"""How often the crash server evaluates proactive triggers (Prefect's default is 5)."""


def clean_env(**updates: str) -> dict[str, str]:
    """This process's environment without any PREFECT_* variable, plus `updates`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT")}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.update(updates)
    return env


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
