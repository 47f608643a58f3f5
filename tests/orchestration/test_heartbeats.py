"""`run_batch` runs keep Prefect's heartbeats and end without joining their thread."""

from __future__ import annotations

from typing import Any

from prefect import flow, flow_engine
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from pytest import MonkeyPatch

from batchwork_prefect import AnthropicCredentials, run_batch
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration import heartbeats
from tests.support import API_KEY

MODEL = "anthropic/claude-opus-4-8"


class _Engine:
    def __init__(self, fn: Any) -> None:
        self.flow = type("F", (), {"fn": fn})()


def test_prefects_heartbeat_context_is_the_shape_wrapped_and_is_wrapped() -> None:
    # a Prefect release that changes it fails here, not by making every run a second longer
    assert heartbeats.fits(heartbeats._ORIGINAL)  # type: ignore[arg-type]
    assert heartbeats.installed()
    assert flow_engine._send_heartbeats.__wrapped__ is heartbeats._ORIGINAL  # type: ignore[attr-defined]
    assert heartbeats.install()  # once only: installing again changes nothing
    assert flow_engine._send_heartbeats.__wrapped__ is heartbeats._ORIGINAL  # type: ignore[attr-defined]


def test_only_run_batch_runs_skip_the_join() -> None:
    def other() -> None: ...

    assert heartbeats.joins_on_exit(_Engine(run_batch.fn), True) is False
    assert heartbeats.joins_on_exit(_Engine(run_batch.with_options(name="x").fn), True) is False
    assert heartbeats.joins_on_exit(_Engine(other), True) is True
    assert heartbeats.joins_on_exit(_Engine(other), False) is False  # the async engine's choice
    assert heartbeats.joins_on_exit(object(), True) is True


def test_shapes_not_wrapped() -> None:
    def no_join(engine: Any) -> None: ...

    def join_off(engine: Any, join_on_exit: bool = False) -> None: ...

    assert not heartbeats.fits(no_join)
    assert not heartbeats.fits(join_off)
    assert not heartbeats.fits(len)


def test_run_batch_runs_send_heartbeats_and_only_they_skip_the_join(
    emulator: Emulator,
    asserting_events_worker: EventsWorker,
    reset_worker_events: None,
    monkeypatch: MonkeyPatch,
) -> None:
    decided: list[tuple[str, bool]] = []
    decide = heartbeats.joins_on_exit

    def recorded(engine: Any, join_on_exit: bool) -> bool:
        joins = decide(engine, join_on_exit)
        decided.append((engine.flow.name, joins))
        return joins

    monkeypatch.setattr(heartbeats, "joins_on_exit", recorded)

    @flow(name="plain-flow", persist_result=False)
    def plain() -> int:
        return 1

    credentials = AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 30}):
        state = run_batch(
            model=MODEL,
            requests=[{"custom_id": "fr", "prompt": "Capital of France? One word."}],
            credentials=credentials,
            poll_interval=0.05,
            return_state=True,
        )
        assert plain() == 1
    assert state.result().texts() == {"fr": "Paris"}
    assert decided == [("run-batch", False), ("plain-flow", True)]

    asserting_events_worker.drain()
    client = asserting_events_worker._client
    assert isinstance(client, AssertingEventsClient)
    beats = {
        event.resource.id for event in client.events if event.event == "prefect.flow-run.heartbeat"
    }
    assert f"prefect.flow-run.{state.state_details.flow_run_id}" in beats
