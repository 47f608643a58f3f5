"""One Prefect test server for the whole session, with fast, isolated settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.settings import (
    PREFECT_API_SERVICES_CANCELLATION_CLEANUP_ENABLED,
    PREFECT_API_SERVICES_FOREMAN_ENABLED,
    PREFECT_API_SERVICES_LATE_RUNS_ENABLED,
    PREFECT_API_SERVICES_PAUSE_EXPIRATIONS_ENABLED,
    PREFECT_API_SERVICES_SCHEDULER_ENABLED,
    PREFECT_API_SERVICES_TASK_RUN_RECORDER_ENABLED,
    PREFECT_API_SERVICES_TRIGGERS_ENABLED,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_HOME,
    PREFECT_LOCAL_STORAGE_PATH,
    PREFECT_LOGGING_TO_API_ENABLED,
    PREFECT_SERVER_ANALYTICS_ENABLED,
    temporary_settings,
)
from prefect.testing.fixtures import asserting_events_worker, reset_worker_events
from prefect.testing.utilities import prefect_test_harness

__all__ = ["asserting_events_worker", "reset_worker_events"]


@pytest.fixture(scope="session")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Prefect home of the test session: storage, results, logs."""
    return tmp_path_factory.mktemp("prefect-home")


@pytest.fixture(scope="session", autouse=True)
def prefect_server(prefect_home: Path) -> Iterator[None]:
    """Start one Prefect test server for every test in this folder."""
    settings = {
        PREFECT_HOME: str(prefect_home),
        PREFECT_LOCAL_STORAGE_PATH: str(prefect_home / "storage"),
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
        PREFECT_LOGGING_TO_API_ENABLED: False,
        PREFECT_SERVER_ANALYTICS_ENABLED: False,
        PREFECT_API_SERVICES_TRIGGERS_ENABLED: False,
        PREFECT_API_SERVICES_TASK_RUN_RECORDER_ENABLED: False,
        PREFECT_API_SERVICES_SCHEDULER_ENABLED: False,
        PREFECT_API_SERVICES_LATE_RUNS_ENABLED: False,
        PREFECT_API_SERVICES_FOREMAN_ENABLED: False,
        PREFECT_API_SERVICES_CANCELLATION_CLEANUP_ENABLED: False,
        PREFECT_API_SERVICES_PAUSE_EXPIRATIONS_ENABLED: False,
    }
    with temporary_settings(updates=settings), prefect_test_harness(server_startup_timeout=90):
        yield
