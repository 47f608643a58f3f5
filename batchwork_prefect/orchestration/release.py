"""Release mode: a `run_batch` flow run that suspends while its batches run.

After the parts are submitted (and persisted), the run checks each batch once. If one is
still running, it writes a wait record per part (`waits`) and suspends itself: its process
exits and its work-pool slot is free. The managed poller resumes it once every batch has
ended (or its deadline has passed); Prefect then runs the flow again from the top, the
submits come from their persisted records, this check finds the batches ended, and the
wait, the read and the rest run as in in-process mode. A run resumed early (the UI's Resume)
finds a batch still running and suspends again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any, Literal
from uuid import uuid4

from prefect import get_run_logger
from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.flow_runs import suspend_flow_run

from batchwork_prefect.core.polling import is_transient_poll_error
from batchwork_prefect.errors import BatchworkError, ConfigurationError
from batchwork_prefect.models import BatchStatus, PartHandle
from batchwork_prefect.orchestration.credentials import connect
from batchwork_prefect.orchestration.scopes import RUN_BATCH_MARK
from batchwork_prefect.orchestration.wait_store import WaitStore
from batchwork_prefect.orchestration.waits import WaitRecord, first_poll, suspend_timeout

WaitMode = Literal["in_process", "release"]

SUSPEND_GRACE = 3600.0
"""Prefect fails a run suspended this long past its deadline (if no poller resumed it)."""

_DEPLOY_IT = (
    "start run_batch as a deployment's own flow run (prefect.yaml's run-batch), e.g. from a "
    "pipeline: run_deployment('run-batch/run-batch', parameters={...}, as_subflow=False); or "
    "use wait='in_process'"
)


def check_releasable(credentials: object) -> str | None:
    """Refuse release mode where Prefect cannot suspend the run, before anything is paid.

    Returns the credentials as the poller finds them: a saved block's name, or None for the
    provider's environment variables.
    """
    context = FlowRunContext.get()
    run = context.flow_run if context is not None else None
    if context is None or run is None:
        raise ConfigurationError("wait='release' suspends a flow run: " + _DEPLOY_IT)
    flow = context.flow
    if flow is None or not getattr(flow.fn, RUN_BATCH_MARK, False):
        name = flow.name if flow is not None else "this flow"
        raise ConfigurationError(
            f"wait='release' would suspend the whole flow run of {name!r}, which "
            "calls run_batch inside it: " + _DEPLOY_IT
        )
    if run.parent_task_run_id is not None:
        raise ConfigurationError("Prefect cannot suspend a subflow run: " + _DEPLOY_IT)
    if run.deployment_id is None:
        raise ConfigurationError(
            "Prefect can only suspend a deployment's flow run, and this one has no "
            "deployment: " + _DEPLOY_IT
        )
    return credentials_name(credentials)


def credentials_name(credentials: object) -> str | None:
    """How the poller loads the credentials: by the saved block's name (or env vars)."""
    if credentials is None or isinstance(credentials, str):
        return credentials
    name = getattr(credentials, "_block_document_name", None)
    if not name:
        raise ConfigurationError(
            f"wait='release' needs the {type(credentials).__name__} block saved "
            "(block.save('NAME')) and passed by its name: the poller loads it by name"
        )
    return str(name)


def release_until_ended(
    handles: Sequence[PartHandle],
    credentials: str | None,
    *,
    poll_interval: float,
    max_poll_interval: float,
    max_wait_seconds: float | None,
) -> float | None:
    """Suspend the run until its batches have ended; else return the wait's time left.

    Returns the seconds left to the deadline (0 once it has passed: the wait then times
    out as in in-process mode), or None without a deadline.
    """
    logger = get_run_logger()
    run = str(_flow_run_id())
    started = min(handle.submitted_at.timestamp() for handle in handles)
    deadline = None if max_wait_seconds is None else started + max_wait_seconds
    statuses = [_check(handle, credentials) for handle in handles]
    now = time.time()
    left = None if deadline is None else max(deadline - now, 0.0)
    with get_client(sync_client=True) as client:
        store = WaitStore(client)
        if all(_ended(status) for status in statuses) or left == 0:
            store.delete_run(run, len(handles))
            return left
        suspension = f"batchwork-{uuid4().hex}"
        for handle, status in zip(handles, statuses, strict=True):
            store.put(
                WaitRecord(
                    run=run,
                    part=handle.part,
                    parts=len(handles),
                    provider=handle.provider,
                    batch_id=handle.batch_id,
                    credentials=credentials,
                    started=started,
                    deadline=deadline,
                    poll_interval=poll_interval,
                    max_poll_interval=max_poll_interval,
                    next_poll=first_poll(started, now, poll_interval, max_poll_interval)
                    - random.random() * 0.1 * poll_interval,  # spread runs released together
                    status=status or BatchStatus.VALIDATING,
                    written=now,
                    suspension=suspension,
                )
            )
    running = [h.batch_id for h, s in zip(handles, statuses, strict=True) if not _ended(s)]
    logger.info(
        "Releasing this run while %s run%s: the batchwork poller resumes it when %s ended%s",
        ", ".join(running),
        "s" if len(running) == 1 else "",
        "it has" if len(handles) == 1 else "every part has",
        "" if deadline is None else f" or after {max_wait_seconds:.0f} s",
    )
    suspend_flow_run(timeout=suspend_timeout(deadline, now, SUSPEND_GRACE), key=suspension)
    return left  # not reached: the suspend ends this process


def _ended(status: BatchStatus | None) -> bool:
    return status is not None and status.is_terminal


def _check(handle: PartHandle, credentials: str | None) -> BatchStatus | None:
    """The batch's status now; None if the provider could not tell for a passing reason."""
    provider = connect(handle.provider, credentials)
    try:
        return provider.retrieve(handle.batch_id).status
    except BatchworkError as exc:
        if not is_transient_poll_error(exc):
            raise
        get_run_logger().warning("Could not check %s (%s); the poller will", handle.batch_id, exc)
        return None
    finally:
        provider.close()


def _flow_run_id() -> Any:
    context = FlowRunContext.get()
    assert context is not None and context.flow_run is not None  # check_releasable ran
    return context.flow_run.id
