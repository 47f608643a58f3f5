"""Which batch a task works on: the run it belongs to, its call site, and its cache keys.

A batch's records live under its *scope*: the `idempotency_key`, else the outermost flow
run's id and the call site's name (see `persistence.batch_scope`). The cache keys of
submit, wait and read are made from the scope and the part, never from task source, so a
redeploy does not resubmit.
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext, TaskRunContext
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run as runtime_flow_run
from prefect.settings import PREFECT_API_URL

from batchwork_prefect.errors import ResultsNotReadyError
from batchwork_prefect.orchestration.intents import part_ref
from batchwork_prefect.orchestration.persistence import (
    batch_scope,
    ended_key,
    part_of,
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


def current_scope(idempotency_key: str | None, batch_name: str | None) -> str | None:
    """The scope of the batch a task works on (None outside any flow run and without a key)."""
    root = root_run_id()
    if idempotency_key is None and root is None:
        return None
    return batch_scope(idempotency_key, root, batch_name)


def submit_cache_key(context: Any, parameters: dict[str, Any]) -> str | None:
    """`submit_batch`'s cache key: the part's `submit.json` under its scope."""
    scope = current_scope(parameters.get("idempotency_key"), parameters.get("batch_name"))
    if not scope:
        return None
    return submit_key(scope, part_ref(parameters["built"], parameters.get("part", 0)))


def ended_cache_key(context: Any, parameters: dict[str, Any]) -> str | None:
    """`wait_for_batch`'s cache key: the part's `ended.json` under its scope."""
    scope = current_scope(parameters.get("idempotency_key"), parameters.get("batch_name"))
    return ended_key(scope, part_of(parameters["handle"])) if scope else None


def results_cache_key(context: Any, parameters: dict[str, Any]) -> str | None:
    """`read_batch_results`'s cache key: the part's `results.json` under its scope."""
    scope = current_scope(parameters.get("idempotency_key"), parameters.get("batch_name"))
    return results_key(scope, part_of(parameters["handle"])) if scope else None


def run_ended(flow_run_id: str) -> bool:
    """Whether a flow run has ended, so a claim it holds is free (unknown: it has not)."""
    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(UUID(flow_run_id)).state
    except Exception:  # the server is unsure or the id unknown: keep waiting on the claim
        return False
    return state is not None and state.is_final()


def refuse_unfinished(scope: str) -> None:
    """Raise `ResultsNotReadyError` when `scope` names a flow run that has not finished.

    Asked only where a Prefect server is configured: without one Prefect would start a
    temporary server that knows no runs. An unknown run, or one that ended, is left to the
    caller's own message.
    """
    try:
        run_id = UUID(scope.partition("/")[0])
    except ValueError:
        return  # an idempotency key
    if PREFECT_API_URL.value() is None:
        return
    try:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run_id).state
    except ObjectNotFound:
        return
    except Exception:  # the server cannot be reached: the caller's own message stands
        return
    if state is None or state.is_final():
        return
    then = (
        "the batchwork poller (`batchwork-prefect poller`) resumes it once its batches have ended"
        if state.is_paused()
        else "wait for it to complete"
    )
    raise ResultsNotReadyError(
        f"flow run {run_id} has not finished: it is {state.name} ({state.type.value}), and "
        f"its results are stored when it completes; {then}, then load them again"
    )


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
