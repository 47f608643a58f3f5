"""`prefect server start` in a subprocess: its environment, start-up and health; and the
environment of any Prefect process with a PREFECT_HOME of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from harness.ports import free_port
from harness.processes import spawn, stop_process_group
from harness.waiting import tail, wait_until

REPO_ROOT = Path(__file__).resolve().parents[1]
# The interpreter's scripts directory: the `prefect` CLI of the environment running the
# tests, whether or not that environment is on PATH (CI runs `.venv/bin/python -m pytest`).
BIN = Path(sys.executable).parent
PREFECT = str(BIN / "prefect")
BATCHWORK = str(BIN / "batchwork-prefect")

PROACTIVE_GRANULARITY_SECONDS = 1
"""How often a quick server evaluates proactive triggers (Prefect's default is 5)."""
QUICK_SERVER = {
    # No cron schedules to create, and no "Late" renaming of AwaitingRetry runs that wait
    # for a worker: state names stay what the tests set. Triggers, actions, the event
    # persister and the task-run recorder stay on (their defaults).
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "true",
    "PREFECT_SERVER_EVENTS_PROACTIVE_GRANULARITY": f"PT{PROACTIVE_GRANULARITY_SECONDS}S",
}
"""The crash and production servers' settings; the bench keeps Prefect's defaults."""


def clean_env(**updates: str) -> dict[str, str]:
    """This process's environment without any PREFECT_* variable, plus `updates`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT")}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.update(updates)
    return env


def prefect_env(home: Path | str, **updates: str) -> dict[str, str]:
    """A Prefect process's environment: `clean_env`, its own PREFECT_HOME (profiles, the
    local database and results inside), no telemetry, plus `updates`."""
    return clean_env(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", **updates)


def api_healthy(api_url: str) -> bool:
    """Whether the Prefect API at `api_url` answers its health check."""
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


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

    @property
    def database(self) -> Path:
        """Its SQLite database (unless its environment named another database)."""
        return self.home / "prefect.db"

    def healthy(self) -> bool:
        return api_healthy(self.api_url)

    def stop(self) -> None:
        stop_process_group(self.process)


def server_env(home: Path, **overrides: str) -> dict[str, str]:
    """Environment of a server: its own home and SQLite DB, quiet, no UI; `overrides`
    replace any of these (e.g. `QUICK_SERVER`, or a PostgreSQL database's URL)."""
    env = prefect_env(
        home,
        PREFECT_API_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{home}/prefect.db",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_SERVER_LOGGING_LEVEL="WARNING",
        PREFECT_LOGGING_LEVEL="WARNING",
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
    process = spawn(
        [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        log_path,
        env=server_env(home, **env),
        cwd=home,
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
