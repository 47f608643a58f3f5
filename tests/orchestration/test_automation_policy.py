"""The crash-resume automations and the guard that stops a crash loop."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.server.events.schemas.events import Resource as ServerResource
from prefect.server.events.schemas.events import ResourceSpecification as ServerSpecification

from batchwork_prefect.orchestration.automations import (
    RESUMABLE,
    RESUME_MESSAGE,
    STALLED_MESSAGE,
    automatic_resumes,
    automations,
)

AUTO = ("AwaitingRetry", RESUME_MESSAGE)
UI = ("AwaitingRetry", "Retry from the UI")
RUNNING = ("Running", None)
CRASHED = ("Crashed", "Flow run infrastructure exited")
PENDING = ("Pending", None)


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], 0),
        ([RUNNING, CRASHED], 0),
        ([RUNNING, CRASHED, AUTO, RUNNING], 1),
        ([RUNNING, CRASHED, AUTO, RUNNING, CRASHED, AUTO, RUNNING], 2),
        ([RUNNING, CRASHED, AUTO, ("Retrying", None)], 1),
        # a person's Retry always runs; automatic resumes before it still count after it
        ([RUNNING, CRASHED, AUTO, RUNNING, CRASHED, UI, RUNNING], 0),
        ([RUNNING, CRASHED, UI, RUNNING, CRASHED, AUTO, RUNNING], 1),
        ([RUNNING, CRASHED, AUTO, RUNNING, CRASHED, UI, RUNNING, CRASHED, AUTO, RUNNING], 2),
        ([("Scheduled", RESUME_MESSAGE), RUNNING], 0),
        # a crash before the run started again is not a start
        ([RUNNING, CRASHED, AUTO, PENDING, CRASHED, AUTO, RUNNING], 1),
        # an action delivered twice, or a crash marked twice, is one resume
        ([RUNNING, CRASHED, AUTO, AUTO, RUNNING], 1),
        ([RUNNING, CRASHED, CRASHED, AUTO, AUTO, RUNNING, CRASHED, AUTO, AUTO, AUTO, RUNNING], 2),
        ([RUNNING, CRASHED, AUTO, CRASHED, AUTO, RUNNING], 1),
        ([RUNNING, CRASHED, AUTO, UI, RUNNING], 0),
        ([RUNNING, CRASHED, UI, AUTO, RUNNING], 1),
        # not started yet: the pending resume is not counted
        ([RUNNING, CRASHED, AUTO], 0),
    ],
)
def test_automatic_resumes_counts_only_when_the_automation_made_this_attempt(
    history: list[tuple[str | None, str | None]], expected: int
) -> None:
    assert automatic_resumes(history) == expected


def test_four_automations_watch_the_tag() -> None:
    chosen = automations("nightly", timedelta(seconds=90))
    for automation in chosen:
        assert isinstance(automation.trigger, EventTrigger)
        related = automation.trigger.match_related
        assert isinstance(related, list)
        assert [spec.root for spec in related] == [
            {"prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.nightly"},
            {"prefect.resource.role": "deployment"},
        ]
        assert automation.name.startswith("nightly: ")
    stalled, resume_stalled, mark, resume = (automation.trigger for automation in chosen)
    assert isinstance(stalled, EventTrigger)
    assert stalled.posture is Posture.Proactive
    assert stalled.within == timedelta(seconds=90)
    assert stalled.after == {"prefect.flow-run.heartbeat"}
    [crash] = chosen[0].actions
    assert isinstance(crash, ChangeFlowRunState) and crash.state is StateType.CRASHED
    assert isinstance(resume_stalled, EventTrigger) and isinstance(mark, EventTrigger)
    assert resume_stalled.expect == mark.expect == {"prefect.flow-run.Crashed"}
    assert resume_stalled.within == timedelta(0) and not resume_stalled.after  # every crash
    # a crash reported otherwise is marked once per start: no loop on a start-up crash
    assert "prefect.flow-run.Running" in mark.after
    assert mark.for_each == {"prefect.resource.id"}
    assert mark.within == timedelta(days=3)
    [marked] = chosen[2].actions
    assert isinstance(marked, ChangeFlowRunState)
    assert (marked.state, marked.name, marked.force) == (StateType.CRASHED, RESUMABLE, True)
    # ...and resumed once it stayed still for 30 s: the worker's late report lands first
    assert isinstance(resume, EventTrigger)
    assert resume.posture is Posture.Proactive and resume.threshold == 1
    assert resume.after == {f"prefect.flow-run.{RESUMABLE}"}
    assert resume.expect == {"prefect.flow-run.*"}  # anything else that moves the run
    assert resume.for_each == {"prefect.resource.id"}
    assert resume.within == timedelta(seconds=30)
    for automation in (chosen[1], chosen[3]):
        [retry] = automation.actions
        assert isinstance(retry, ChangeFlowRunState)
        assert (retry.state, retry.name, retry.message, retry.force) == (
            StateType.SCHEDULED,
            "AwaitingRetry",
            RESUME_MESSAGE,
            True,
        )


@pytest.mark.parametrize(
    ("message", "stalled"),
    [
        (STALLED_MESSAGE.format(zombie_after=timedelta(seconds=45)), True),
        (STALLED_MESSAGE.format(zombie_after=timedelta(hours=2)), True),
        ("Flow run infrastructure exited with non-zero status code -9.", False),
        ("", False),  # a Running state's message, which arms the second resume
    ],
)
def test_each_crash_is_resumed_by_one_automation(message: str, stalled: bool) -> None:
    """The server's label matching splits crashes by message: stalled, or anything else.

    A stalled crash is resumed at once; any other is marked resumable (and resumed later).
    """
    _, resume_stalled, mark, _ = automations("batchwork", timedelta(seconds=45))
    runs_of = {
        "stalled": resume_stalled.trigger.match,  # type: ignore[union-attr]
        "other": mark.trigger.match,  # type: ignore[union-attr]
    }
    resource = ServerResource.model_validate(
        {"prefect.resource.id": "prefect.flow-run.1", "prefect.state-message": message}
    )
    covered = {
        name: ServerSpecification.model_validate(spec.root).matches(resource)
        for name, spec in runs_of.items()
    }
    assert covered == {"stalled": stalled, "other": not stalled}


def test_windows_must_be_positive() -> None:
    with pytest.raises(ValueError, match="zombie_after must be positive"):
        automations("batchwork", timedelta(0))
    with pytest.raises(ValueError, match="resume_within must be positive"):
        automations("batchwork", timedelta(minutes=5), timedelta(0))
    with pytest.raises(ValueError, match="resume_after must be at least 10 s"):
        automations("batchwork", timedelta(minutes=5), timedelta(days=1), timedelta(seconds=5))


def test_the_automations_act_on_deployment_runs_not_on_run_batch_subflows() -> None:
    """A subflow run carries its parent's tags but no deployment: no worker could run it again;
    its parent's resume brings it back."""
    from prefect.server.events.schemas.automations import EventTrigger as ServerTrigger
    from prefect.server.events.schemas.events import RelatedResource

    tag = RelatedResource(
        {"prefect.resource.id": "prefect.tag.batchwork", "prefect.resource.role": "tag"}
    )
    deployment = RelatedResource(
        {"prefect.resource.id": "prefect.deployment.d1", "prefect.resource.role": "deployment"}
    )
    flow = RelatedResource(
        {"prefect.resource.id": "prefect.flow.f1", "prefect.resource.role": "flow"}
    )
    for automation in automations():
        trigger = ServerTrigger.model_validate(automation.trigger.model_dump())
        specs = trigger.match_related if isinstance(trigger.match_related, list) else []
        assert all(spec.includes([tag, deployment, flow]) for spec in specs)
        assert not all(spec.includes([tag, flow]) for spec in specs)  # a subflow run
