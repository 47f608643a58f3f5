"""Prefect's dual sync/async helpers, used from synchronous code only."""

from __future__ import annotations

import inspect
from typing import Any


def sync(value: object) -> Any:
    """The value of a dual sync/async Prefect call, which must not be a coroutine here."""
    if inspect.iscoroutine(value):
        value.close()
        raise RuntimeError("batchwork's Prefect helpers are synchronous; call them outside async")
    return value
