"""The crash-resume automations and the guard that stops a crash loop."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.events.schemas.events import ResourceSpecification

from batchwork_prefect.automations import RESUME_MESSAGE, automatic_resumes, automations

AUTO = ("AwaitingRetry", RESUME_MESSAGE)
UI = ("AwaitingRetry", "Retry from the UI")
RUNNING = ("Running", None)
CRASHED = ("Crashed", "Flow run infrastructure exited")


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], 0),
        ([RUNNING, CRASHED], 0),
        ([RUNNING, CRASHED, AUTO, RUNNING], 1),
        ([RUNNING, CRASHED, AUTO, RUNNING, CRASHED, AUTO, RUNNING], 2),
        ([RUNNING, CRASHED, AUTO, RUNNING, CRASHED, UI, RUNNING], 0),
        ([RUNNING, CRASHED, UI, RUNNING, CRASHED, AUTO, RUNNING], 1),
        ([RUNNING, CRASHED, AUTO, CRASHED, AUTO, CRASHED, UI, CRASHED, AUTO], 3),
        ([("Scheduled", RESUME_MESSAGE), RUNNING], 0),
        # an action delivered twice is one resume
        ([RUNNING, CRASHED, AUTO, AUTO, RUNNING], 1),
        ([RUNNING, CRASHED, AUTO, AUTO, RUNNING, CRASHED, AUTO, AUTO, AUTO, RUNNING], 2),
        ([RUNNING, CRASHED, AUTO, UI, RUNNING], 0),
        ([RUNNING, CRASHED, UI, AUTO, RUNNING], 1),
    ],
)
def test_automatic_resumes_counts_only_when_the_automation_made_this_attempt(
    history: list[tuple[str | None, str | None]], expected: int
) -> None:
    assert automatic_resumes(history) == expected


def test_two_automations_watch_the_tag() -> None:
    stalled, resume = automations("nightly", timedelta(seconds=90))
    for automation in (stalled, resume):
        assert isinstance(automation.trigger, EventTrigger)
        related = automation.trigger.match_related
        assert isinstance(related, ResourceSpecification)
        assert related.root == {
            "prefect.resource.role": "tag",
            "prefect.resource.id": "prefect.tag.nightly",
        }
        assert automation.name.startswith("nightly: ")
    assert stalled.trigger.posture is Posture.Proactive  # type: ignore[union-attr]
    assert stalled.trigger.within == timedelta(seconds=90)  # type: ignore[union-attr]
    assert stalled.trigger.after == {"prefect.flow-run.heartbeat"}  # type: ignore[union-attr]
    [crash] = stalled.actions
    assert isinstance(crash, ChangeFlowRunState) and crash.state is StateType.CRASHED
    assert resume.trigger.expect == {"prefect.flow-run.Crashed"}  # type: ignore[union-attr]
    # only a run that started since its last resume is resumed: no loop on a start-up crash
    assert "prefect.flow-run.Running" in resume.trigger.after  # type: ignore[union-attr]
    assert resume.trigger.for_each == {"prefect.resource.id"}  # type: ignore[union-attr]
    assert resume.trigger.within == timedelta(days=3)  # type: ignore[union-attr]
    [retry] = resume.actions
    assert isinstance(retry, ChangeFlowRunState)
    assert (retry.state, retry.name, retry.message, retry.force) == (
        StateType.SCHEDULED,
        "AwaitingRetry",
        RESUME_MESSAGE,
        True,
    )


def test_windows_must_be_positive() -> None:
    with pytest.raises(ValueError, match="zombie_after must be positive"):
        automations("batchwork", timedelta(0))
    with pytest.raises(ValueError, match="resume_within must be positive"):
        automations("batchwork", timedelta(minutes=5), timedelta(0))
