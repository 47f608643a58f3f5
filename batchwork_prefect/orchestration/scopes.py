"""Which batch a task works on: its scope, worked out once, and the cache keys made of it.

A batch's records live under its *scope*: the `idempotency_key`, else the outermost flow
run's id and the call site's name (see `persistence.batch_scope`). `run_batch` and the job
block work it out once per batch, as a `BatchScope`, and pass it to each of its tasks. The
cache keys of submit, wait and read are made of it and the part (`persistence.part_ref`),
never of task source, so a redeploy does not resubmit.
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext, TaskRunContext
from prefect.runtime import flow_run as runtime_flow_run
from pydantic import BaseModel, ConfigDict, Field

from batchwork_prefect.orchestration.persistence import (
    batch_scope,
    check_name,
    ended_key,
    part_ref,
    results_key,
    submit_key,
)

RUN_BATCH_MARK = "__batchwork_run_batch__"
"""Set on `run_batch`'s function: a run of it knows itself by it, whatever the flow's name
and however its module was loaded (a deployment loads the file as a script)."""

_ROOTS: dict[str, str] = {}
_ROOTS_LOCK = threading.Lock()


def root_run_id() -> str | None:
    """The id of the outermost flow run this code runs under (None outside any flow).

    A subflow's root is found through its parent task runs (API calls), once per run. A
    task run outside any flow has none: never the text "None", which every such task run
    would share as the holder of a claim.
    """
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        task_context = TaskRunContext.get()
        own = task_context.task_run.flow_run_id if task_context else None
        return str(own) if own is not None else None
    run = context.flow_run
    if run.parent_task_run_id is None:
        return str(run.id)
    with _ROOTS_LOCK:
        known = _ROOTS.get(str(run.id))
    if known is None:
        known = str(runtime_flow_run.root_flow_run_id)
        with _ROOTS_LOCK:
            _ROOTS[str(run.id)] = known
    return known


class BatchScope(BaseModel):
    """Where a batch's records live, and the flow runs it belongs to: worked out once.

    `run_batch` and the job block make it once per batch and pass it to each task, as JSON
    (a task parameter). `name` is the scope itself, as in the storage layout and in
    `load_batch_results(name)`; a retry of the run, or of a flow that calls `run_batch`,
    works out the same name, so it finds the same records.

    Examples:
        In your own flow, the tasks of one batch share one scope:
        ```python
        scope = BatchScope.here(idempotency_key="2026-11-25")
        handle = submit_part(built, 0, scope, credentials="anthropic")
        ```
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="The idempotency key, else '<root flow run id>/<call site>'.")
    root_run: str | None = Field(
        default=None, description="The outermost flow run, which holds the parts' claims."
    )
    run: str | None = Field(
        default=None, description="The flow run the batch is made in, whose stop ends its waits."
    )

    @classmethod
    def here(cls, idempotency_key: str | None = None, batch_name: str | None = None) -> BatchScope:
        """The scope of a batch made here: in the current flow run, or anywhere with a key.

        Args:
            idempotency_key: Shares the batch across flow runs; see `run_batch`.
            batch_name: The call site's name within the outermost flow run (default:
                `default`); see `run_batch`.

        Raises:
            ConfigurationError: a key or name unfit for a storage folder, or no key outside
                any flow run.
        """
        if batch_name:
            check_name(batch_name, "batch_name")
        root = root_run_id()
        context = FlowRunContext.get()
        run = context.flow_run if context is not None else None
        return cls(
            name=batch_scope(idempotency_key, root, batch_name),
            root_run=root,
            run=str(run.id) if run is not None else None,
        )


def submit_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    """`submit_part`'s cache key: the part's `submit.json` under its scope."""
    return submit_key(parameters["scope"].name, part_ref(parameters["built"], parameters["part"]))


def ended_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    """`wait_for_part`'s cache key: the part's `ended.json` under its scope."""
    return ended_key(parameters["scope"].name, part_ref(parameters["handle"]))


def results_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    """`read_part_results`'s cache key: the part's `results.json` under its scope."""
    return results_key(parameters["scope"].name, part_ref(parameters["handle"]))


def run_ended(flow_run_id: str) -> bool:
    """Whether a flow run has ended, so a claim it holds is free (unknown: it has not)."""
    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(flow_run_id)).state
    except Exception:  # the server is unsure or the id unknown: keep waiting on the claim
        return False
    return state is not None and state.is_final()


_CALLS: dict[tuple[str, int], int] = {}
_SITES: dict[str, str] = {}
_CALLS_LOCK = threading.Lock()


def call_site() -> str:
    """`call-<n>` for the n-th run_batch of this attempt of the outermost flow run.

    A retry of that run calls run_batch again in the same order, so each call finds its
    own records again. Counted per attempt (run count), so an in-process retry starts over;
    a run_batch subflow run that retries itself keeps the name its first attempt got.
    """
    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    own = (
        str(run.id)
        if run is not None
        and context is not None
        and context.flow is not None
        and getattr(context.flow.fn, RUN_BATCH_MARK, False)
        else None
    )
    with _CALLS_LOCK:
        if own is not None and own in _SITES:
            return _SITES[own]
    root = root_run_id()
    if root is None:
        return "call-1"
    if run is not None and str(run.id) == root:
        attempt = run.run_count
    else:
        with get_client(sync_client=True) as client:
            attempt = client.read_flow_run(UUID(root)).run_count
    with _CALLS_LOCK:
        number = _CALLS.get((root, attempt), 0) + 1
        _CALLS[(root, attempt)] = number
        site = f"call-{number}"
        if own is not None:
            _SITES[own] = site
    return site
