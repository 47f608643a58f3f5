"""A first-time user's first runs (a new PREFECT_HOME, no PREFECT_* variable): Prefect's
temporary server starts, and nothing prints a traceback (its telemetry, racing the first
writes to its new database, can print `database is locked` unless it is off)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prefect.settings import (
    PREFECT_SERVER_ANALYTICS_ENABLED,
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
)

from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.temporary_server import (
    STARTUP_SECONDS,
    temporary_server_settings,
)
from tests.cli.helpers import COMMAND
from tests.support import API_KEY

REPO_ROOT = Path(__file__).resolve().parents[2]


def first_time_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without Prefect's variables, PREFECT_HOME new."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_", "ANTHROPIC_"))
    }
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), **extra)
    return env


def test_the_demo_prints_no_traceback_on_a_first_run(tmp_path: Path) -> None:
    completed = subprocess.run(
        [*COMMAND, "demo", "--processing-seconds", "0.5"],
        env=first_time_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr
    assert "Paris" in completed.stdout
    assert "Traceback" not in completed.stderr, completed.stderr


def test_the_example_script_prints_no_traceback_on_a_first_run(
    tmp_path: Path, emulator: Emulator
) -> None:
    """`python flows/capital_cities.py`, its credentials the environment's, on a new home."""
    env = first_time_env(tmp_path, ANTHROPIC_API_KEY=API_KEY, ANTHROPIC_BASE_URL=emulator.base_url)
    completed = subprocess.run(
        [sys.executable, "flows/capital_cities.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr
    assert "'fr': 'Paris'" in completed.stdout
    assert "Traceback" not in completed.stderr, completed.stderr


def test_the_temporary_server_settings_turn_telemetry_off_and_wait_120_s() -> None:
    with temporary_server_settings():
        assert PREFECT_SERVER_ANALYTICS_ENABLED.value() is False
        assert PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value() == STARTUP_SECONDS == 120
