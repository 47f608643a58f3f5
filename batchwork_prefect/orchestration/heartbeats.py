"""`run_batch`'s flow runs end without waiting for Prefect's heartbeat thread.

Prefect 3.9's sync flow engine sends a run's heartbeats from a thread that sleeps in
one-second steps, and joins that thread as the run ends (`flow_engine._send_heartbeats`,
`join_on_exit=True`), so every sync flow run waits up to a second more than its work. The
async engine passes `join_on_exit=False`: the thread, told to stop, ends at its next step
without sending again. `run_batch` runs (and its copies) get the async engine's choice here;
heartbeats still start with the run and keep coming while it runs, so crash detection is
unchanged. Every other flow run gets Prefect's own behaviour.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from prefect import flow_engine

from batchwork_prefect.orchestration.scopes import RUN_BATCH_MARK

_ORIGINAL: Callable[..., AbstractContextManager[None]] | None = None


def fits(send: Callable[..., Any]) -> bool:
    """Whether `send` is the shape this module wraps: `(engine, join_on_exit=True)`."""
    try:
        parameters = inspect.signature(send).parameters
    except (TypeError, ValueError):
        return False
    join = parameters.get("join_on_exit")
    return "engine" in parameters and join is not None and join.default is True


def joins_on_exit(engine: Any, join_on_exit: bool) -> bool:
    """Whether the heartbeat thread is joined when `engine`'s run ends: not for `run_batch`."""
    fn = getattr(getattr(engine, "flow", None), "fn", None)
    return join_on_exit and not getattr(fn, RUN_BATCH_MARK, False)


def install() -> bool:
    """Wrap Prefect's heartbeat context once; False when Prefect's shape is not the known one
    (then nothing is changed, and runs keep waiting for the join)."""
    global _ORIGINAL
    if _ORIGINAL is not None:
        return True
    original = getattr(flow_engine, "_send_heartbeats", None)
    if original is None or not fits(original):
        return False

    @contextmanager
    def send_heartbeats(engine: Any, join_on_exit: bool = True) -> Iterator[None]:
        with original(engine, join_on_exit=joins_on_exit(engine, join_on_exit)):
            yield

    send_heartbeats.__wrapped__ = original  # type: ignore[attr-defined]
    _ORIGINAL = original
    flow_engine._send_heartbeats = send_heartbeats
    return True


def installed() -> bool:
    """Whether `run_batch` runs skip the join in this process."""
    wrapped = getattr(flow_engine._send_heartbeats, "__wrapped__", None)
    return _ORIGINAL is not None and wrapped is _ORIGINAL
