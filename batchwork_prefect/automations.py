"""Automations that resume batchwork flow runs whose worker or process died.

`install_automations()` (`batchwork-prefect install-automations`) creates two automations on
the Prefect server, replacing earlier versions of them:

- **mark stalled runs crashed**: a running flow run tagged `batchwork` that sends no event
  for `zombie_after` after a heartbeat is set to Crashed (Prefect's zombie-run recipe). The
  flow runs need heartbeats: set `PREFECT_FLOWS_HEARTBEAT_FREQUENCY` (e.g. 30) in their
  environment, as `prefect.yaml` does.
- **resume crashed runs**: a flow run tagged `batchwork` that crashes after it started
  running is set to AwaitingRetry, as the UI's Retry does; a worker runs it again and the
  persisted submit records resume the same provider batches. Each start arms it for one
  resume, for `resume_within` after the start (default 3 days: longer than a batch can
  take). A run that crashes again before it runs (its flow cannot be loaded, a pull step
  fails) is left Crashed: resuming it would loop without end.

`run_batch` refuses to start an attempt that follows more than `max_crash_resumes`
automatic resumes (it fails instead), so a crash that repeats cannot loop; a Retry from the
UI is always let through.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import (
    AutomationCore,
    EventTrigger,
    Posture,
)
from prefect.events.schemas.events import ResourceSpecification
from prefect.runtime import flow_run

from batchwork_prefect.errors import BatchworkError

DEFAULT_TAG = "batchwork"
DEFAULT_ZOMBIE_AFTER = timedelta(minutes=5)
DEFAULT_RESUME_WITHIN = timedelta(days=3)
RESUME_MESSAGE = "Resumed by batchwork after a crash"
AWAITING_RETRY = "AwaitingRetry"
# A flow run entering RUNNING: named Running, or Retrying/Rerunning by some policies.
STARTED_EVENTS = {f"prefect.flow-run.{name}" for name in ("Running", "Retrying", "Rerunning")}


class CrashLoopError(BatchworkError):
    """A flow run was resumed automatically after crashing too many times."""


def automations(
    tag: str = DEFAULT_TAG,
    zombie_after: timedelta = DEFAULT_ZOMBIE_AFTER,
    resume_within: timedelta = DEFAULT_RESUME_WITHIN,
) -> list[AutomationCore]:
    """The two automations, for flow runs tagged `tag`."""
    if zombie_after <= timedelta(0):
        raise ValueError("zombie_after must be positive")
    if resume_within <= timedelta(0):
        raise ValueError("resume_within must be positive")
    runs = ResourceSpecification({"prefect.resource.id": "prefect.flow-run.*"})
    tagged = ResourceSpecification(
        {"prefect.resource.role": "tag", "prefect.resource.id": f"prefect.tag.{tag}"}
    )
    stalled = AutomationCore(
        name=f"{tag}: mark stalled runs crashed",
        description=(
            f"A flow run tagged {tag!r} that sent no event for {zombie_after} after a "
            "heartbeat is marked Crashed (its process or worker died)."
        ),
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.*"},
            match=runs,
            match_related=tagged,
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=zombie_after,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"No heartbeat for {zombie_after}: the run's process or worker died",
            )
        ],
    )
    resume = AutomationCore(
        name=f"{tag}: resume crashed runs",
        description=(
            f"A flow run tagged {tag!r} that crashed after it started running is set to "
            "AwaitingRetry so a worker runs it again; its persisted submit records resume "
            "the same provider batches."
        ),
        trigger=EventTrigger(
            # Each start opens a window of `resume_within` for this run; one resume spends
            # it. (Prefect sweeps a window once it has closed, so it cannot be 0.)
            after=STARTED_EVENTS,
            expect={"prefect.flow-run.Crashed"},
            match=runs,
            match_related=tagged,
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=resume_within,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.SCHEDULED, name=AWAITING_RETRY, message=RESUME_MESSAGE, force=True
            )
        ],
    )
    return [stalled, resume]


def install_automations(
    tag: str = DEFAULT_TAG,
    zombie_after: timedelta = DEFAULT_ZOMBIE_AFTER,
    resume_within: timedelta = DEFAULT_RESUME_WITHIN,
) -> list[str]:
    """Create (or replace) the automations on the configured Prefect server; returns names."""
    wanted = automations(tag, zombie_after, resume_within)
    with get_client(sync_client=True) as client:
        for automation in wanted:
            for existing in client.read_automations_by_name(automation.name):
                client.delete_automation(existing.id)
            client.create_automation(automation)
    return [automation.name for automation in wanted]


def automatic_resumes(history: Sequence[tuple[str | None, str | None]]) -> int:
    """How many automatic resumes led to the current attempt, from (name, message) states.

    0 when the latest AwaitingRetry was not made by the automation (a Retry from the UI);
    else the number of AwaitingRetry states the automation made over the run's life.
    Prefect delivers an automation's action at least once, so AwaitingRetry states that
    follow each other directly are one resume: the last of them counts.
    """
    retries = [message for name, message in _one_per_resume(history) if name == AWAITING_RETRY]
    if not retries or retries[-1] != RESUME_MESSAGE:
        return 0
    return sum(1 for message in retries if message == RESUME_MESSAGE)


def _one_per_resume(
    history: Sequence[tuple[str | None, str | None]],
) -> list[tuple[str | None, str | None]]:
    """`history` with each run of back-to-back AwaitingRetry states cut to its last."""
    kept: list[tuple[str | None, str | None]] = []
    for state in history:
        if kept and kept[-1][0] == AWAITING_RETRY and state[0] == AWAITING_RETRY:
            kept[-1] = state
        else:
            kept.append(state)
    return kept


def refuse_crash_loop(max_crash_resumes: int) -> None:
    """Fail the current flow run if it (or its root run) was resumed automatically too often."""
    run_id = flow_run.root_flow_run_id or flow_run.id  # a subflow answers for its root run
    if run_id is None:
        return
    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(run_id)
    history = [
        (state.name, state.message) for state in sorted(states, key=lambda state: state.timestamp)
    ]
    resumes = automatic_resumes(history)
    if resumes > max_crash_resumes:
        raise CrashLoopError(
            f"this flow run crashed and was resumed automatically {resumes} times (limit "
            f"{max_crash_resumes}); not starting again. Find the cause in the logs of the "
            "crashed attempts, then Retry from the UI: submitted batches are resumed, not paid "
            "again."
        )
