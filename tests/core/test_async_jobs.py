"""`abatch()`, `aget_batch()` and `AsyncBatchJob` over real HTTP against the emulator, both
wire formats: the sync core's results, an event loop that keeps running, cancellable waits."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from batchwork_prefect import (
    AsyncBatchJob,
    BatchResult,
    BatchStatus,
    ConfigurationError,
    ResultsIntegrityError,
    ResultsNotReadyError,
    ResultStatus,
    abatch,
    aget_batch,
    batch,
    get_batch,
)
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.providers.anthropic.provider import API_VERSION
from tests.support import API_KEY

Wire = Callable[[Emulator], tuple[str, str, str, str]]


def _anthropic(emu: Emulator) -> tuple[str, str, str, str]:
    """The model, the provider, the base URL and the emulator's prefix for its routes."""
    return "anthropic/claude-opus-4-8", "anthropic", emu.base_url, ""


def _openai(emu: Emulator) -> tuple[str, str, str, str]:
    return "openai/gpt-4o-mini", "openai", emu.openai_base_url, "openai.batches."


WIRES = pytest.mark.parametrize("wire", [_anthropic, _openai], ids=["anthropic", "openai"])

REQUESTS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
    {"custom_id": "err", "prompt": "[[emulate:errored]] hi"},
    {"custom_id": "exp", "prompt": "[[emulate:expired]] hi"},
]


@WIRES
def test_the_async_job_gives_the_sync_jobs_results(emulator: Emulator, wire: Wire) -> None:
    model, provider, base_url, _ = wire(emulator)
    key = {"api_key": API_KEY, "base_url": base_url}

    async def run() -> tuple[Any, Any, list[BatchResult]]:
        async with await abatch(model, REQUESTS, {"max_tokens": 64}, **key) as job:
            assert isinstance(job, AsyncBatchJob) and job.provider == provider
            final = await job.wait(poll_interval=0.01)
            assert final.status is BatchStatus.COMPLETED and job.status is final.status
            collected = await job.collect()
            streamed = [result async for result in job.results()]
        async with await aget_batch(job.id, provider, model=job.model, **key) as again:
            attached = await again.collect()
        return collected, attached, streamed

    collected, attached, streamed = asyncio.run(run())
    name = model.split("/", 1)[1]
    with get_batch(collected.batch_ids, provider, model=name, **key) as sync_job:
        expected = sync_job.collect()
    assert collected == expected and attached == expected
    assert streamed == expected.results
    with batch(model, REQUESTS, {"max_tokens": 64}, **key) as fresh:
        fresh.wait(poll_interval=0.01)
        sync_run = fresh.collect()
    assert [(r.custom_id, r.status, r.text) for r in collected.results] == [
        (r.custom_id, r.status, r.text) for r in sync_run.results
    ]
    assert collected["fr"].text == "Paris" and collected["err"].status is ResultStatus.ERRORED


@WIRES
def test_a_retry_is_an_async_job_over_the_failed_requests(emulator: Emulator, wire: Wire) -> None:
    model, _, base_url, _ = wire(emulator)

    async def run() -> tuple[list[str], dict[str, int]]:
        async with await abatch(model, REQUESTS, api_key=API_KEY, base_url=base_url) as job:
            await job.wait(poll_interval=0.01)
            first = await job.collect()
            retry = await job.retry_failed(first)
            assert retry is not None
            await retry.wait(poll_interval=0.01)
            merged = first.merge(await retry.collect())
            return sorted(r.custom_id for r in (await retry.collect()).results), {
                r.custom_id: r.attempts for r in merged.results
            }

    retried, attempts = asyncio.run(run())
    assert retried == ["err", "exp"]  # an api_error is the provider's fault: sent again
    assert attempts == {"fr": 1, "jp": 1, "err": 2, "exp": 2}


@WIRES
def test_the_event_loop_runs_while_the_job_waits(wire: Wire) -> None:
    """A coroutine beside the wait keeps ticking between its polls."""
    with Emulator(api_key=API_KEY, processing_seconds=1.0) as emu:
        model, _, base_url, route = wire(emu)
        seen: list[int] = []  # the polls made so far, at each tick

        async def run() -> None:
            async with await abatch(model, REQUESTS[:1], api_key=API_KEY, base_url=base_url) as job:
                done = asyncio.Event()

                async def tick() -> None:
                    while not done.is_set():
                        seen.append(emu.calls[route + "retrieve"])
                        await asyncio.sleep(0.01)

                ticker = asyncio.create_task(tick())
                await job.wait(poll_interval=0.05)
                done.set()
                await ticker

        asyncio.run(run())
        polls = emu.calls[route + "retrieve"]
    assert polls >= 2  # the batch took several polls: the wait was a real one
    assert any(1 <= count < polls for count in seen)  # ticks between its first and last poll


@WIRES
def test_cancelling_a_wait_stops_the_polling(wire: Wire) -> None:
    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        model, _, base_url, route = wire(emu)

        async def run() -> None:
            async with await abatch(model, REQUESTS[:1], api_key=API_KEY, base_url=base_url) as job:
                polled = asyncio.Event()
                threads: list[int] = []

                def on_poll(_: Any) -> None:
                    threads.append(threading.get_ident())
                    polled.set()

                waiting = asyncio.create_task(job.wait(poll_interval=600, on_poll=on_poll))
                await polled.wait()
                assert threads == [threading.get_ident()]  # on_poll ran on the loop's thread
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiting
                assert job.status is BatchStatus.IN_PROGRESS
                await job.cancel()

        asyncio.run(run())
        assert emu.calls[route + "retrieve"] == 1  # the cancelled wait made no poll after its first
        assert emu.calls[route + "cancel"] == 1


@WIRES
def test_errors_are_raised_as_by_the_sync_api(wire: Wire) -> None:
    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        model, _, base_url, _ = wire(emu)

        def refuse(snapshot: Any) -> None:
            raise RuntimeError(f"on_poll saw {snapshot.status.value}")

        async def run() -> None:
            with pytest.raises(ConfigurationError, match="no batch id"):
                await aget_batch("", api_key=API_KEY, base_url=base_url)
            async with await abatch(model, REQUESTS[:1], api_key=API_KEY, base_url=base_url) as job:
                with pytest.raises(ResultsNotReadyError, match="wait\\(\\) for it to end"):
                    await job.collect()
                with pytest.raises(RuntimeError, match="on_poll saw in_progress"):
                    await job.wait(poll_interval=600, on_poll=refuse)
                await job.cancel()

        asyncio.run(run())


def test_streamed_results_come_before_an_integrity_error(emulator: Emulator) -> None:
    """Anthropic's wire: a results body with a garbage line between two good ones."""
    model, _, base_url, _ = _anthropic(emulator)

    async def run() -> list[str]:
        async with await abatch(model, REQUESTS[:2], api_key=API_KEY, base_url=base_url) as job:
            await job.wait(poll_interval=0.01)
            assert job.snapshot.results_url is not None
            headers = {"x-api-key": API_KEY, "anthropic-version": API_VERSION}
            lines = httpx.get(job.snapshot.results_url, headers=headers).content
            first, second = lines.strip().split(b"\n")
            body = first + b"\ngarbage\n" + second + b"\n"
            emulator.add_fault(Fault(route="results", status=200, body=body))
            seen: list[str] = []
            with pytest.raises(ResultsIntegrityError, match="not a valid result"):
                async for result in job.results():
                    seen.append(result.custom_id)
            return seen

    assert sorted(asyncio.run(run())) == ["fr", "jp"]
