"""A Prefect test server for the commands that need one, and a guard against a throwaway one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_HOME,
    PREFECT_LOCAL_STORAGE_PATH,
    PREFECT_LOGGING_TO_API_ENABLED,
    PREFECT_SERVER_ANALYTICS_ENABLED,
    temporary_settings,
)
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prefect test server for this module; yields its API URL."""
    home = tmp_path_factory.mktemp("prefect-home")
    settings = {
        PREFECT_HOME: str(home),
        PREFECT_LOCAL_STORAGE_PATH: str(home / "storage"),
        PREFECT_LOGGING_TO_API_ENABLED: False,
        PREFECT_SERVER_ANALYTICS_ENABLED: False,
    }
    with temporary_settings(updates=settings), prefect_test_harness(server_startup_timeout=90):
        yield str(PREFECT_API_URL.value())


class ServerStarted(AssertionError):
    """A command started Prefect's temporary server."""


@pytest.fixture
def no_api_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No PREFECT_API_URL (environment or profile), and any temporary server start fails."""
    from prefect.server.api.server import SubprocessASGIServer

    def refuse(*args: object, **kwargs: object) -> None:
        raise ServerStarted("a temporary Prefect server was started")

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.setattr(SubprocessASGIServer, "start", refuse)
    with temporary_settings(
        updates={PREFECT_HOME: str(tmp_path / "prefect-home")}, restore_defaults={PREFECT_API_URL}
    ):
        assert PREFECT_API_URL.value() is None
        yield
