"""`arun_batch`: the `run_batch` flow awaited from an async flow, its event loop left free.

Prefect 3.9 runs a sync flow called from an async flow on the caller's thread, which holds
the event loop for the whole batch. Here the same subflow runs on a worker thread instead,
with the caller's run context (`asyncio.to_thread` copies it), so the batch is the one
`run_batch` would make: the same run, call site and durable records.
"""

from __future__ import annotations

import asyncio
from typing import Any

from batchwork_prefect.orchestration.flows import run_batch


async def arun_batch(*args: Any, **kwargs: Any) -> Any:
    """`run_batch(...)` for async flows: `results = await arun_batch(model=..., ...)`.

    Takes `run_batch`'s parameters (and Prefect's `return_state`) and returns what it
    returns: its `BatchResults`. The `run-batch` subflow run runs on a worker thread, so
    the flow's other coroutines keep running while the batch waits. Cancelling the awaiting
    task does not stop that run: it goes on to its end.

    Examples:
        ```python
        @flow
        async def pipeline() -> None:
            results = await arun_batch(
                model="anthropic/claude-opus-4-8",
                requests=[{"custom_id": "fr", "prompt": "Capital of France? One word."}],
                credentials="anthropic",
            )
        ```
    """
    return await asyncio.to_thread(run_batch, *args, **kwargs)
