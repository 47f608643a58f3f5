"""Installing the crash-resume automations, and the guard that stops a crash loop."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefect.client.orchestration import get_client
from prefect.flow_engine import run_flow
from prefect.states import State

from batchwork_prefect import AnthropicCredentials, run_batch
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.errors import CrashLoopError
from batchwork_prefect.orchestration.automations import (
    RESUME_MESSAGE,
    install_automations,
)
from tests.support import API_KEY

CAPITALS = [{"custom_id": "fr", "prompt": "Capital of France? One word."}]


def test_install_is_idempotent_and_creates_both() -> None:
    first = install_automations("crash-test", timedelta(seconds=90))
    second = install_automations("crash-test", timedelta(seconds=120))
    assert first == second
    with get_client(sync_client=True) as client:
        for name in first:
            [installed] = client.read_automations_by_name(name)
            assert installed.enabled
    assert any("resume" in name for name in first)
    assert any("stalled" in name for name in first)


def _parameters(emulator: Emulator, max_crash_resumes: int) -> dict[str, object]:
    return {
        "model": "anthropic/claude-opus-4-8",
        "requests": CAPITALS,
        "credentials": AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url),
        "poll_interval": 0.05,
        "max_crash_resumes": max_crash_resumes,
    }


def _resumed_run(
    emulator: Emulator, max_crash_resumes: int, resumes: int, deliveries: int = 1
) -> object:
    """A flow run that crashed and was resumed by the automation `resumes` times.

    `deliveries` is how many times each resume's action reached the run (Prefect delivers
    an automation's action at least once).
    """
    parameters = _parameters(emulator, max_crash_resumes)
    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(run_batch, parameters=parameters)
        for _ in range(resumes):
            client.set_flow_run_state(flow_run.id, State(type="RUNNING"), force=True)
            client.set_flow_run_state(flow_run.id, State(type="CRASHED"), force=True)
            for _ in range(deliveries):
                client.set_flow_run_state(
                    flow_run.id,
                    State(type="SCHEDULED", name="AwaitingRetry", message=RESUME_MESSAGE),
                    force=True,
                )
        flow_run = client.read_flow_run(flow_run.id)
    return run_flow(run_batch, flow_run=flow_run, parameters=parameters, return_type="state")


@pytest.mark.parametrize(
    ("resumes", "deliveries", "allowed"), [(2, 1, True), (2, 2, True), (3, 1, False)]
)
def test_automatic_resumes_past_the_limit_are_refused(
    emulator: Emulator, resumes: int, deliveries: int, allowed: bool
) -> None:
    state = _resumed_run(emulator, max_crash_resumes=2, resumes=resumes, deliveries=deliveries)
    assert isinstance(state, State)
    if allowed:
        assert state.is_completed()
        assert emulator.calls["create"] == 1
    else:
        assert state.is_failed()
        with pytest.raises(CrashLoopError, match="resumed automatically 3 times"):
            state.result()
        assert emulator.calls["create"] == 0
