"""Prefect's dual sync/async calls: made from synchronous code (`sync`), offered to async code
the way Prefect's own integrations offer theirs (`async_dispatch`)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

# The decorator Prefect's own integrations (prefect-shell, prefect-kubernetes, prefect-aws)
# give their JobBlocks: imported here only, so a move in Prefect touches one line.
from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.utilities.asyncutils import run_coro_as_sync

from batchwork_prefect.errors import ConfigurationError

__all__ = ["async_dispatch", "sync"]


def sync(value: object) -> Any:
    """The value of a dual sync/async Prefect call, made from synchronous code.

    Prefect answers with a coroutine where the run context is async (an async flow): in a
    worker thread (`asyncio.to_thread`) it is run to its end; on an event loop's own thread
    it would block the loop, so it is refused.
    """
    if not inspect.iscoroutine(value):
        return value
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_coro_as_sync(value)
    value.close()
    raise ConfigurationError(
        "batchwork's Prefect tasks and helpers are synchronous: call them from a sync flow, "
        "or from an async one through `asyncio.to_thread`"
    )
