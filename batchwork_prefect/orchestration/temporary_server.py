"""Settings for Prefect's temporary server, the one a script without PREFECT_API_URL starts."""

from __future__ import annotations

from contextlib import AbstractContextManager

from prefect.settings import (
    PREFECT_SERVER_ANALYTICS_ENABLED,
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    Settings,
    temporary_settings,
)

STARTUP_SECONDS = 120


def temporary_server_settings() -> AbstractContextManager[Settings]:
    """Prefect's temporary server started inside waits long enough and sends no telemetry.

    A new machine's first temporary server creates its database: 17-23 s seen on 2 cores,
    past Prefect's 20 s default wait for it. Its telemetry heartbeat, racing those first
    writes on SQLite, can print a `database is locked` traceback (and needs the network).
    """
    startup = max(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value(), STARTUP_SECONDS)
    return temporary_settings(
        updates={
            PREFECT_SERVER_ANALYTICS_ENABLED: False,
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: startup,
        }
    )
