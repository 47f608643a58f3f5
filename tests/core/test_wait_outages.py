"""A long wait rides out overloads and outages of the status endpoint; definite errors end it."""

from __future__ import annotations

import httpx
import pytest

from batchwork_prefect import (
    BatchJob,
    BatchStatus,
    BatchTimeoutError,
    BatchworkError,
    ProtocolError,
    ProviderError,
    TransportError,
)
from batchwork_prefect.core import build_parts, submit_built
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.providers import BatchLimits
from batchwork_prefect.providers.anthropic import AnthropicProvider
from tests.support import API_KEY, EmulatedTime

REQUESTS = [{"custom_id": f"r{i}", "prompt": f"question {i}"} for i in range(4)]
ATTEMPTS_PER_POLL = 5  # the transport's first try and its 4 retries


def _job(
    emulator: Emulator,
    *,
    client: httpx.Client | None = None,
    limits: BatchLimits | None = None,
) -> BatchJob:
    """A submitted job whose transport records its retry backoff instead of sleeping."""
    provider = AnthropicProvider(
        api_key=API_KEY, base_url=emulator.base_url, sleep=lambda _: None, client=client
    )
    return submit_built(provider, build_parts(provider, "claude-x", REQUESTS, limits=limits))


class _Failures:
    """Records each `on_poll_error` call."""

    def __init__(self) -> None:
        self.calls: list[tuple[BatchworkError, int]] = []

    def __call__(self, error: BatchworkError, failed_polls: int) -> None:
        self.calls.append((error, failed_polls))


def test_an_overload_burst_longer_than_the_transport_retries_is_ridden_out() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=600) as emu:
        job = _job(emu)
        time = EmulatedTime(emu)
        failures = _Failures()
        emu.add_fault(Fault(route="retrieve", status=529, times=2 * ATTEMPTS_PER_POLL + 2))
        final = job.wait(
            poll_interval=5, sleep=time.sleep, clock=time.clock, on_poll_error=failures
        )
        assert final.status is BatchStatus.COMPLETED
        assert final.request_counts.succeeded == len(REQUESTS)
        assert emu.faults_pending == 0
    assert [count for _, count in failures.calls] == [1, 2]
    assert all(
        isinstance(error, ProviderError) and error.status_code == 529 for error, _ in failures.calls
    )
    assert 4.5 <= time.sleeps[0] <= 5 and 9 <= time.sleeps[1] <= 10  # backoff grows


def test_the_first_poll_failing_for_hours_still_ends_with_the_final_snapshot() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        job = _job(emu)
        time = EmulatedTime(emu)
        failures = _Failures()
        emu.add_fault(Fault(route="retrieve", status=503, times=30 * ATTEMPTS_PER_POLL))
        final = job.wait(
            poll_interval=5,
            max_poll_interval=600,
            timeout=24 * 3600,
            sleep=time.sleep,
            clock=time.clock,
            on_poll_error=failures,
        )
        assert final.status is BatchStatus.COMPLETED
    assert [count for _, count in failures.calls] == list(range(1, 31))
    assert max(time.sleeps) <= 600
    assert time.now > 3 * 3600  # 30 failed polls, spread out, and then the end


def test_a_wait_that_runs_out_while_polls_fail_times_out_with_the_last_snapshot() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        job = _job(emu)
        time = EmulatedTime(emu)
        failures = _Failures()
        emu.add_fault(Fault(route="retrieve", status=529, times=10_000))
        with pytest.raises(BatchTimeoutError, match="left running") as caught:
            job.wait(
                poll_interval=5,
                timeout=600,
                sleep=time.sleep,
                clock=time.clock,
                on_poll_error=failures,
            )
        emu.clear_faults()
        assert caught.value.snapshot.status is BatchStatus.IN_PROGRESS
        assert caught.value.snapshot.id == job.id
        assert isinstance(caught.value.__cause__, ProviderError)
        assert time.now == pytest.approx(600)
        assert failures.calls and emu.calls["cancel"] == 0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_definite_answers_end_the_wait_at_once(status: int) -> None:
    with Emulator(api_key=API_KEY, processing_seconds=600) as emu:
        job = _job(emu)
        time = EmulatedTime(emu)
        failures = _Failures()
        emu.add_fault(Fault(route="retrieve", status=status, times=3))
        with pytest.raises(ProviderError) as caught:
            job.wait(sleep=time.sleep, clock=time.clock, on_poll_error=failures)
        assert caught.value.status_code == status
        assert emu.calls["retrieve"] == 1
    assert failures.calls == [] and time.sleeps == []


def test_a_status_answer_that_is_not_json_ends_the_wait_at_once() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=600) as emu:
        job = _job(emu)
        time = EmulatedTime(emu)
        emu.add_fault(Fault(route="retrieve", status=200, body=b"<html>maintenance</html>"))
        with pytest.raises(ProtocolError, match="non-JSON"):
            job.wait(sleep=time.sleep, clock=time.clock)
    assert time.sleeps == []


def test_a_definite_error_after_transient_ones_still_ends_the_wait() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=600) as emu:
        job = _job(emu)
        time = EmulatedTime(emu)
        failures = _Failures()
        emu.add_fault(Fault(route="retrieve", status=500, times=ATTEMPTS_PER_POLL))
        emu.add_fault(Fault(route="retrieve", status=401))
        with pytest.raises(ProviderError) as caught:
            job.wait(sleep=time.sleep, clock=time.clock, on_poll_error=failures)
    assert caught.value.status_code == 401
    assert [count for _, count in failures.calls] == [1]


class _Unreachable(httpx.BaseTransport):
    """Refuses the first `refusals` status polls' connections, then passes requests through."""

    def __init__(self, refusals: int) -> None:
        self._left = refusals
        self._real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and self._left > 0:
            self._left -= 1
            raise httpx.ConnectError("connection refused")
        return self._real.handle_request(request)


def test_an_unreachable_status_endpoint_is_ridden_out() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=600) as emu:
        flaky = _Unreachable(refusals=3 * ATTEMPTS_PER_POLL)
        job = _job(emu, client=httpx.Client(transport=flaky))
        time = EmulatedTime(emu)
        failures = _Failures()
        final = job.wait(
            poll_interval=5, sleep=time.sleep, clock=time.clock, on_poll_error=failures
        )
        assert final.status is BatchStatus.COMPLETED
    assert [count for _, count in failures.calls] == [1, 2, 3]
    assert all(isinstance(error, TransportError) for error, _ in failures.calls)
    assert "could not connect" in str(failures.calls[0][0])


def test_a_failed_part_does_not_lose_the_other_parts_new_state(emulator: Emulator) -> None:
    job = _job(emulator, limits=BatchLimits(max_requests=2, max_bytes=10_000))
    assert len(job.ids) == 2
    emulator.add_fault(Fault(route="retrieve", status=500, times=ATTEMPTS_PER_POLL))
    with pytest.raises(ProviderError):
        job.poll()  # the first part's poll fails; the second's is still made and kept
    parts = job.snapshot.parts
    assert [part.status for part in parts] == [BatchStatus.IN_PROGRESS, BatchStatus.COMPLETED]
    assert emulator.calls["retrieve"] == ATTEMPTS_PER_POLL + 1
    assert job.poll().status is BatchStatus.COMPLETED
    assert emulator.calls["retrieve"] == ATTEMPTS_PER_POLL + 2  # only the unfinished part


def test_a_failed_part_is_polled_again_by_wait(emulator: Emulator) -> None:
    job = _job(emulator, limits=BatchLimits(max_requests=2, max_bytes=10_000))
    emulator.add_fault(Fault(route="retrieve", status=529, times=ATTEMPTS_PER_POLL))
    failures = _Failures()
    final = job.wait(sleep=lambda _: None, clock=lambda: 0.0, on_poll_error=failures)
    assert final.status is BatchStatus.COMPLETED
    assert [part.status for part in final.parts] == [BatchStatus.COMPLETED] * 2
    assert [count for _, count in failures.calls] == [1]
