"""Prefect's dual sync/async helpers, used from synchronous code only."""

from __future__ import annotations

import inspect
from typing import Any

from batchwork_prefect.errors import ConfigurationError


def sync(value: object) -> Any:
    """The value of a dual sync/async Prefect call, which must not be a coroutine here."""
    if inspect.iscoroutine(value):
        value.close()
        raise ConfigurationError(
            "batchwork's Prefect tasks and helpers are synchronous: call them from a sync flow, "
            "or from an async one through `asyncio.to_thread`"
        )
    return value
