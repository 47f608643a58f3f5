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
from batchwork_prefect.orchestration.stops import forget_stop_signal, stop_waiting

STOP_REPEAT_SECONDS = 0.1
"""How often a cancelled call sets its run's stop signal again until the run has ended: a
submit that was under way forgets the signal when it finishes."""


async def arun_batch(*args: Any, **kwargs: Any) -> Any:
    """`run_batch(...)` for async flows: `results = await arun_batch(model=..., ...)`.

    Takes `run_batch`'s parameters (and Prefect's `return_state`) and returns what it
    returns: its `BatchResults`. The `run-batch` subflow run runs on a worker thread, so
    the flow's other coroutines keep running while the batch waits. Cancelling the awaiting
    task stops that run's waits: the run fails (`WaitStopped`), its batches are left
    running for a rerun to resume, and the cancellation is raised once the run has ended.

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
    runs: list[object] = []  # the subflow run's id, once it runs

    def running(flow: Any, flow_run: Any, state: Any) -> None:
        runs.append(flow_run.id)

    subflow = run_batch.with_options(on_running=[running])
    worker = asyncio.ensure_future(asyncio.to_thread(subflow, *args, **kwargs))
    try:
        return await asyncio.shield(worker)
    except asyncio.CancelledError:
        while not worker.done():
            for run in runs:
                stop_waiting(run, cancel_batches=False)
            await asyncio.wait([worker], timeout=STOP_REPEAT_SECONDS)
        for run in runs:
            forget_stop_signal(run)
        if not worker.cancelled():
            worker.exception()  # retrieved: the cancellation is what the caller sees
        raise
