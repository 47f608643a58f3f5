"""batch() → wait() → collect() over real HTTP against the emulator."""

from __future__ import annotations

import pytest

from batchwork_prefect import (
    BatchRequest,
    BatchResults,
    BatchStatus,
    ResultStatus,
    batch,
    get_batch,
)
from batchwork_prefect.emulator import Emulator
from tests.support import API_KEY, EmulatedTime

MODEL = "anthropic/claude-opus-4-8"
CAPITALS = [
    BatchRequest(custom_id="fr", prompt="Capital of France? One word."),
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]


def test_capitals_end_to_end(emulator: Emulator) -> None:
    with batch(
        MODEL,
        CAPITALS,
        defaults={"max_tokens": 64, "system": "Answer briefly."},
        api_key=API_KEY,
        base_url=emulator.base_url,
    ) as job:
        assert job.id.startswith("msgbatch_")
        assert job.provider == "anthropic"
        assert job.status is BatchStatus.IN_PROGRESS
        assert job.request_counts.total == 2
        final = job.wait(poll_interval=0.01)
        assert final.status is BatchStatus.COMPLETED
        results = job.collect()
    assert isinstance(results, BatchResults)
    assert results.batch_ids == [job.id]
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert results["fr"].text == "Paris"
    assert results["jp"].text == "Tokyo"
    assert results["fr"].message is not None and results["fr"].message["model"] == "claude-opus-4-8"
    assert results.usage.input_tokens > 0 and results.usage.output_tokens > 0
    assert emulator.calls["create"] == 1


def test_status_and_counts_are_last_observed_without_network(emulator: Emulator) -> None:
    job = batch(MODEL, CAPITALS, api_key=API_KEY, base_url=emulator.base_url)
    calls = sum(emulator.calls.values())
    for _ in range(3):
        assert job.status is BatchStatus.IN_PROGRESS
        assert job.request_counts.processing == 2
    assert sum(emulator.calls.values()) == calls
    job.poll()
    assert emulator.calls["retrieve"] == 1
    assert job.status is BatchStatus.COMPLETED


def test_streamed_results_cover_every_outcome(emulator: Emulator) -> None:
    requests = [
        BatchRequest(custom_id="ok", prompt="hello"),
        BatchRequest(custom_id="err", prompt="[[emulate:errored]] hi"),
        BatchRequest(custom_id="exp", prompt="[[emulate:expired]] hi"),
        BatchRequest(custom_id="can", prompt="[[emulate:canceled]] hi"),
        BatchRequest(custom_id="nomodel", prompt="hi", params={"max_tokens": 0}),
    ]
    job = batch(MODEL, requests, api_key=API_KEY, base_url=emulator.base_url)
    job.wait(poll_interval=0.01)
    by_id = {result.custom_id: result for result in job.results()}
    assert {key: value.status for key, value in by_id.items()} == {
        "ok": ResultStatus.SUCCEEDED,
        "err": ResultStatus.ERRORED,
        "exp": ResultStatus.EXPIRED,
        "can": ResultStatus.CANCELED,
        "nomodel": ResultStatus.ERRORED,
    }
    assert by_id["err"].error is not None and by_id["err"].error.type == "api_error"
    assert by_id["nomodel"].error is not None
    assert by_id["nomodel"].error.type == "invalid_request_error"
    assert job.request_counts.errored == 2


def test_auto_custom_ids(emulator: Emulator) -> None:
    job = batch(
        MODEL,
        [{"prompt": "a"}, {"prompt": "b"}, {"custom_id": "named", "prompt": "c"}],
        api_key=API_KEY,
        base_url=emulator.base_url,
    )
    job.wait(poll_interval=0.01)
    assert sorted(job.collect().texts()) == ["named", "request-0", "request-1"]


def test_wait_polls_adaptively_until_the_batch_ends() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=600, gradual_counts=True) as emu:
        time = EmulatedTime(emu)
        job = batch(MODEL, CAPITALS, api_key=API_KEY, base_url=emu.base_url)
        seen: list[int] = []
        final = job.wait(
            poll_interval=5,
            sleep=time.sleep,
            clock=time.clock,
            on_poll=lambda snapshot: seen.append(snapshot.request_counts.finished),
        )
    assert final.status is BatchStatus.COMPLETED
    assert 600 <= time.now <= 600 * 1.1 + 5
    assert seen == sorted(seen) and seen[-1] == 2
    assert time.sleeps[0] <= 5 and max(time.sleeps) > 5
    assert emu.calls["retrieve"] == len(time.sleeps) + 1


def test_wait_honours_the_server_retry_after_hint() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=100, poll_retry_after=10) as emu:
        time = EmulatedTime(emu)
        job = batch(MODEL, CAPITALS, api_key=API_KEY, base_url=emu.base_url)
        job.wait(poll_interval=1, sleep=time.sleep, clock=time.clock)
    assert time.sleeps and min(time.sleeps) >= 10


def test_wait_timeout_raises_and_leaves_the_batch_running() -> None:
    from batchwork_prefect import BatchTimeoutError

    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        time = EmulatedTime(emu)
        job = batch(MODEL, CAPITALS, api_key=API_KEY, base_url=emu.base_url)
        with pytest.raises(BatchTimeoutError, match="left running") as caught:
            job.wait(poll_interval=5, timeout=60, sleep=time.sleep, clock=time.clock)
        assert caught.value.snapshot.status is BatchStatus.IN_PROGRESS
        assert time.now == pytest.approx(60)
        assert emu.calls["cancel"] == 0
        assert job.poll().status is BatchStatus.IN_PROGRESS


def test_cancel() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        job = batch(MODEL, CAPITALS, api_key=API_KEY, base_url=emu.base_url)
        assert job.cancel().status is BatchStatus.CANCELLING
        final = job.wait(poll_interval=0.01)
        assert final.status is BatchStatus.CANCELLED
        results = job.collect()
    assert results.counts[ResultStatus.CANCELED] == 2


def test_get_batch_reattaches_by_id(emulator: Emulator) -> None:
    job = batch(MODEL, CAPITALS, api_key=API_KEY, base_url=emulator.base_url)
    again = get_batch(job.id, api_key=API_KEY, base_url=emulator.base_url)
    assert again.id == job.id
    assert again.status is BatchStatus.COMPLETED
    assert again.collect().texts() == {"fr": "Paris", "jp": "Tokyo"}


def test_credentials_come_from_the_environment(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", emulator.base_url)
    job = batch(MODEL, CAPITALS)
    assert job.wait(poll_interval=0.01).status is BatchStatus.COMPLETED


def test_extra_headers_are_sent(emulator: Emulator) -> None:
    batch(
        MODEL,
        CAPITALS,
        api_key=API_KEY,
        base_url=emulator.base_url,
        headers={"anthropic-beta": "some-beta-2026"},
    )
    route, headers = emulator.requests_received[-1]
    assert route == "create"
    assert headers["anthropic-beta"] == "some-beta-2026"
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["x-api-key"] == API_KEY
