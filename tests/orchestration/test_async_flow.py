"""`arun_batch` awaited from an async flow on a real Prefect server against the emulator:
the event loop keeps running while the batch waits, and the batch is `run_batch`'s own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from prefect.states import State

from batchwork_prefect import (
    AnthropicCredentials,
    BatchResults,
    OpenAICredentials,
    arun_batch,
    load_batch_results,
    run_batch,
)
from batchwork_prefect.emulator import Emulator
from tests.support import API_KEY

CAPITALS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]
Call = Callable[..., Awaitable[BatchResults]]


def _polls(emu: Emulator, wire: str) -> int:
    return emu.calls["retrieve" if wire == "anthropic" else "openai.batches.retrieve"]


def _parameters(emu: Emulator, wire: str) -> dict[str, Any]:
    credentials: Any = (
        AnthropicCredentials(api_key=API_KEY, base_url=emu.base_url)
        if wire == "anthropic"
        else OpenAICredentials(api_key=API_KEY, base_url=emu.openai_base_url)
    )
    model = "anthropic/claude-opus-4-8" if wire == "anthropic" else "openai/gpt-4o-mini"
    return {"model": model, "requests": CAPITALS, "credentials": credentials, "poll_interval": 0.05}


async def _arun(**parameters: Any) -> BatchResults:
    results: BatchResults = await arun_batch(**parameters)
    return results


async def _blocking(**parameters: Any) -> BatchResults:
    return run_batch(**parameters)  # the sync flow, called as is from the async one


def _ticking_while(emu: Emulator, wire: str, call: Call) -> tuple[Any, list[int]]:
    """Run `call` in an async flow beside a coroutine that notes, at each tick, how many
    polls the emulator has answered so far."""
    seen: list[int] = []

    @flow(name="async-pipeline", persist_result=False)
    async def pipeline() -> BatchResults:
        done = asyncio.Event()

        async def tick() -> None:
            while not done.is_set():
                seen.append(_polls(emu, wire))
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(tick())
        try:
            return await call(**_parameters(emu, wire))
        finally:
            done.set()
            await ticker

    state: State[BatchResults] = asyncio.run(pipeline(return_state=True))
    return state, seen


@pytest.mark.parametrize("wire", ["anthropic", "openai"])
def test_other_coroutines_run_while_arun_batch_waits(wire: str) -> None:
    with Emulator(api_key=API_KEY, processing_seconds=2) as emu:
        state, seen = _ticking_while(emu, wire, _arun)
        polls = _polls(emu, wire)
    results = state.result()
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert polls >= 2  # the batch took several polls: the wait was a real one
    assert any(1 <= count < polls for count in seen)  # ticks between its first and last poll
    # the batch is run_batch's own: a run-batch subflow of the pipeline, its results stored
    run_id = state.state_details.flow_run_id
    assert load_batch_results(str(run_id)) == results
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id])
            )
        )
    assert [child.state_type.value for child in children] == ["COMPLETED"]


def test_run_batch_called_as_is_from_an_async_flow_holds_the_event_loop() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=2) as emu:
        state, seen = _ticking_while(emu, "anthropic", _blocking)
        polls = _polls(emu, "anthropic")
    assert state.result().texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert polls >= 2
    assert not any(1 <= count < polls for count in seen)  # no tick during the wait


def test_two_calls_in_one_async_flow_are_two_call_sites(emulator: Emulator) -> None:
    parameters = _parameters(emulator, "anthropic")

    @flow(name="async-two-batches", persist_result=False)
    async def pipeline() -> tuple[BatchResults, BatchResults]:
        first = await _arun(**parameters)
        second = await _arun(**{**parameters, "requests": CAPITALS[:1]})
        return first, second

    state: State[tuple[BatchResults, BatchResults]] = asyncio.run(pipeline(return_state=True))
    first, second = state.result()
    run_id = state.state_details.flow_run_id
    assert first.texts() == {"fr": "Paris", "jp": "Tokyo"} and second.texts() == {"fr": "Paris"}
    assert load_batch_results(f"{run_id}/call-1") == first
    assert load_batch_results(f"{run_id}/call-2") == second
    assert emulator.batches_created == 2


def test_cancelling_the_awaiting_task_stops_the_runs_waits() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        parameters = _parameters(emu, "anthropic")

        @flow(name="async-cancelled-batch", persist_result=False)
        async def pipeline() -> str:
            call = asyncio.create_task(_arun(**parameters))
            await asyncio.sleep(0)  # let it start: the subflow is cancelled before it ends
            call.cancel()
            try:
                await call
            except asyncio.CancelledError:
                return "cancelled"
            return "ended"

        state: State[str] = asyncio.run(pipeline(return_state=True))
        assert state.result() == "cancelled"
        assert emu.batches_created == 1 and emu.calls["cancel"] == 0  # left running
    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as client:
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id])
            )
        )
    assert [child.state_type.value for child in children] == ["FAILED"]
