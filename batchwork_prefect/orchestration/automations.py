"""Automations that resume batchwork flow runs whose worker or process died.

`install_automations()` (`batchwork-prefect install-automations`) creates four automations
on the Prefect server, replacing earlier versions of them:

- **mark stalled runs crashed**: a running flow run tagged `batchwork` that sends no event
  for `zombie_after` after a heartbeat is set to Crashed (Prefect's zombie-run recipe). The
  flow runs need heartbeats: set `PREFECT_FLOWS_HEARTBEAT_FREQUENCY` (e.g. 30) in their
  environment, as `prefect.yaml` does.
- **resume stalled runs**: a run the first automation marked Crashed is set to
  AwaitingRetry, as the UI's Retry does; a worker runs it again and the persisted submit
  records resume the same provider batches. Such a run had started: it sent heartbeats.
- **mark crashed runs resumable**: a run whose crash is reported otherwise (its process
  died under a live worker, or under `serve`) is set to a Crashed state named `Resumable`,
  once for each time the run started, within `resume_within` of the start (default 3 days:
  longer than a batch can take). A run that crashes before it runs (its flow cannot be
  loaded, a pull step fails) is not marked, so it is left Crashed: resuming it would loop
  without end.
- **resume crashed runs**: a `Resumable` run that stays so for `resume_after` (default
  30 s) is set to AwaitingRetry. The wait lets the death's last report land first: a
  process worker reports a crash twice (its runner, then the worker itself, seen up to 7 s
  later), and the second report, an unforced Crashed, would otherwise land on the resumed
  attempt and strand it or start it twice. While the run is Crashed the server refuses that
  report. Any other change of the run meanwhile (a Retry from the UI) means the automation
  leaves it alone.

`run_batch` refuses to start an attempt once the automations have started it more than
`max_crash_resumes` times (it fails instead), so a crash that repeats cannot loop; a Retry
from the UI is always let through.
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

from batchwork_prefect.errors import ConfigurationError, CrashLoopError

DEFAULT_TAG = "batchwork"
DEFAULT_ZOMBIE_AFTER = timedelta(minutes=5)
DEFAULT_RESUME_WITHIN = timedelta(days=3)
DEFAULT_RESUME_AFTER = timedelta(seconds=30)
"""How long a crashed run stays still before it is resumed: past the worker's late report."""
RESUME_MESSAGE = "Resumed by batchwork after a crash"
RESUMABLE = "Resumable"
RESUMABLE_MESSAGE = (
    "The run's process died; batchwork resumes it shortly, once its worker has reported "
    "(Retry now to resume it at once)"
)
STALLED_MESSAGE = "No heartbeat for {zombie_after}: the run's process or worker died"
AWAITING_RETRY = "AwaitingRetry"
# A flow run entering RUNNING: named Running, or Retrying/Rerunning by some policies.
STARTED_STATES = ("Running", "Retrying", "Rerunning")
_STALLED = STALLED_MESSAGE.partition("{")[0] + "*"  # a glob on the Crashed state's message


_RESUMED = (
    "set to AwaitingRetry so a worker runs it again; its persisted submit records resume the "
    "same provider batches."
)


def _runs(message: str | None = None) -> ResourceSpecification:
    """Flow runs, and if `message` is given, only states whose message matches that glob."""
    labels = {"prefect.resource.id": "prefect.flow-run.*"}
    if message is not None:
        labels["prefect.state-message"] = message
    return ResourceSpecification(labels)


def _resume() -> ChangeFlowRunState:
    """What the UI's Retry does, with the message that marks an automatic resume."""
    return ChangeFlowRunState(
        state=StateType.SCHEDULED, name=AWAITING_RETRY, message=RESUME_MESSAGE, force=True
    )


def automations(
    tag: str = DEFAULT_TAG,
    zombie_after: timedelta = DEFAULT_ZOMBIE_AFTER,
    resume_within: timedelta = DEFAULT_RESUME_WITHIN,
    resume_after: timedelta = DEFAULT_RESUME_AFTER,
) -> list[AutomationCore]:
    """The four automations, for flow runs tagged `tag`."""
    if zombie_after <= timedelta(0):
        raise ConfigurationError("zombie_after must be positive")
    if resume_within <= timedelta(0):
        raise ConfigurationError("resume_within must be positive")
    if resume_after < timedelta(seconds=10):
        raise ConfigurationError("resume_after must be at least 10 s (Prefect's shortest wait)")
    # Deployment runs only: a worker can run those again. A run_batch subflow carries its
    # parent's tags, but has no deployment: it comes back with its parent, which reattaches it.
    tagged = [
        ResourceSpecification(
            {"prefect.resource.role": "tag", "prefect.resource.id": f"prefect.tag.{tag}"}
        ),
        ResourceSpecification({"prefect.resource.role": "deployment"}),
    ]
    stalled = AutomationCore(
        name=f"{tag}: mark stalled runs crashed",
        description=(
            f"A flow run tagged {tag!r} that sent no event for {zombie_after} after a "
            "heartbeat is marked Crashed (its process or worker died)."
        ),
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.*"},
            match=_runs(),
            match_related=tagged,
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=zombie_after,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED, message=STALLED_MESSAGE.format(zombie_after=zombie_after)
            )
        ],
    )
    # Prefect may fire the stalled automation twice for one run, and on SQLite both Crashed
    # states can land, the second after the resume: every stalled crash is resumed.
    resume_stalled = AutomationCore(
        name=f"{tag}: resume stalled runs",
        description=f"A flow run tagged {tag!r} marked Crashed for lack of heartbeats is "
        + _RESUMED,
        trigger=EventTrigger(
            expect={"prefect.flow-run.Crashed"},
            match=_runs(message=_STALLED),
            match_related=tagged,
            posture=Posture.Reactive,
            threshold=1,
            within=timedelta(0),
        ),
        actions=[_resume()],
    )
    mark = AutomationCore(
        name=f"{tag}: mark crashed runs resumable",
        description=f"A flow run tagged {tag!r} that crashed after it started running is "
        f"marked {RESUMABLE!r}, once per start; a crash before it ran again is left alone.",
        trigger=EventTrigger(
            # Each start opens a window of `resume_within` for this run; one mark spends
            # it. (Prefect sweeps a window once it has closed, so it cannot be 0.)
            after={f"prefect.flow-run.{name}" for name in STARTED_STATES},
            expect={"prefect.flow-run.Crashed"},
            match=_runs(message="!" + _STALLED),
            match_related=tagged,
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=resume_within,
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED, name=RESUMABLE, message=RESUMABLE_MESSAGE, force=True
            )
        ],
    )
    # Like the stalled-run recipe: after the mark, any event of the run (a late report
    # cannot land on a Crashed run; a Retry from the UI) means someone else moved it.
    resume = AutomationCore(
        name=f"{tag}: resume crashed runs",
        description=f"A flow run tagged {tag!r} left {RESUMABLE!r} for {resume_after} (its "
        "worker has reported by then) is " + _RESUMED,
        trigger=EventTrigger(
            after={f"prefect.flow-run.{RESUMABLE}"},
            expect={"prefect.flow-run.*"},
            match=_runs(),
            match_related=tagged,
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=resume_after,
        ),
        actions=[_resume()],
    )
    return [stalled, resume_stalled, mark, resume]


def install_automations(
    tag: str = DEFAULT_TAG,
    zombie_after: timedelta = DEFAULT_ZOMBIE_AFTER,
    resume_within: timedelta = DEFAULT_RESUME_WITHIN,
    resume_after: timedelta = DEFAULT_RESUME_AFTER,
) -> list[str]:
    """Create (or replace) the automations on the configured Prefect server; returns names."""
    wanted = automations(tag, zombie_after, resume_within, resume_after)
    with get_client(sync_client=True) as client:
        for automation in wanted:
            for existing in client.read_automations_by_name(automation.name):
                client.delete_automation(existing.id)
            client.create_automation(automation)
    return [automation.name for automation in wanted]


def automatic_resumes(history: Sequence[tuple[str | None, str | None]]) -> int:
    """How many of a run's starts the automations made, from its (name, message) states.

    A start (Running) was made by the automations when the last AwaitingRetry before it is
    theirs; several AwaitingRetry states before one start are one resume (Prefect carries
    out an action at least once). 0 when the latest start was not theirs (a Retry from the
    UI), so a person's Retry always runs.
    """
    automatic: list[bool] = []
    retry: str | None = None  # the message of the last AwaitingRetry since the last start
    retried = False
    for name, message in history:
        if name == AWAITING_RETRY:
            retry, retried = message, True
        elif name in STARTED_STATES and retried:
            automatic.append(retry == RESUME_MESSAGE)
            retried = False
    if not automatic or not automatic[-1]:
        return 0
    return sum(automatic)


def refuse_crash_loop(max_crash_resumes: int) -> None:
    """Fail the current flow run if it (or its root run) was resumed automatically too often."""
    run_id = flow_run.root_flow_run_id or flow_run.id  # a subflow answers for its root run
    if run_id is None:
        return
    if run_id == flow_run.id and flow_run.run_count <= 1:
        return  # the run's first attempt: nothing resumed it yet (no call to the server)
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
