"""`run_batch(wait="release")` on a real Prefect server, its flow run executed in this process.

Each attempt of a deployment's run is executed with `run_flow`, as a worker's flow-run
process does: the first one ends in `Pause` (the run is Suspended), and once the poller has
resumed the run, the next one finishes it. The same path with a real worker, processes and
kills is in tests/crash/test_release_mode.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow

from batchwork_prefect import (
    AnthropicCredentials,
    BatchResults,
    BatchTimeoutError,
    GeminiCredentials,
    OpenAICredentials,
    ProviderError,
    run_batch,
)
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.poller import Poller
from batchwork_prefect.orchestration.release import SUSPEND_GRACE
from batchwork_prefect.orchestration.wait_store import WaitStore
from batchwork_prefect.orchestration.waits import first_poll
from tests.support import API_KEY

MODELS = {
    "anthropic": "anthropic/claude-opus-4-8",
    "openai": "openai/gpt-4o-mini",
    "gemini": "gemini/gemini-2.5-flash",
}
CREATES = {
    "anthropic": "create",
    "openai": "openai.batches.create",
    "gemini": "gemini.batches.create",
}
CANCELS = {
    "anthropic": "cancel",
    "openai": "openai.batches.cancel",
    "gemini": "gemini.batches.cancel",
}
REQUESTS = [{"custom_id": f"q{i}", "prompt": f"Question {i}"} for i in range(5)]


@dataclass
class Released:
    client: SyncPrefectClient
    emulator: Emulator
    provider: str
    deployment: UUID

    def start(self, **parameters: Any) -> FlowRun:
        values = {
            "model": MODELS[self.provider],
            "requests": REQUESTS,
            "credentials": f"release-{self.provider}",
            "wait": "release",
            "max_requests_per_batch": 2,
            **parameters,
        }
        return self.client.create_flow_run_from_deployment(self.deployment, parameters=values)

    def execute(self, run: FlowRun) -> Any:
        """One attempt of the run, as a worker's flow-run process makes it."""
        current = self.client.read_flow_run(run.id)
        return run_flow(run_batch, flow_run=current, parameters=current.parameters)

    def state_names(self, run: FlowRun) -> list[str]:
        states = self.client.read_flow_run_states(run.id)
        return [str(s.name) for s in sorted(states, key=lambda s: s.timestamp)]

    def records(self, run: FlowRun) -> int:
        return len(WaitStore(self.client).read_run(str(run.id)))

    def pause_key(self, run: FlowRun) -> str | None:
        state = self.client.read_flow_run(run.id).state
        assert state is not None
        return state.state_details.pause_key

    def save_block(self, key: str) -> None:
        block = f"release-{self.provider}"
        if self.provider == "anthropic":
            AnthropicCredentials(api_key=key, base_url=self.emulator.base_url).save(
                block, overwrite=True
            )
        elif self.provider == "gemini":
            GeminiCredentials(api_key=key, base_url=self.emulator.base_url_for("gemini")).save(
                block, overwrite=True
            )
        else:
            OpenAICredentials(api_key=key, base_url=self.emulator.openai_base_url).save(
                block, overwrite=True
            )

    @property
    def creates(self) -> int:
        return self.emulator.calls[CREATES[self.provider]]


class Clock:
    """The poller's clock: an hour ahead of the records (every poll is due), then moved."""

    def __init__(self) -> None:
        self.now = time.time() + 3600

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["anthropic", "openai", "gemini"])
def released(request: pytest.FixtureRequest) -> Iterator[Released]:
    provider = str(request.param)
    with Emulator(api_key=API_KEY, processing_seconds=600, time_scale=0) as emulator:
        if provider == "anthropic":
            AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url).save(
                "release-anthropic", overwrite=True
            )
        elif provider == "gemini":
            GeminiCredentials(api_key=API_KEY, base_url=emulator.base_url_for("gemini")).save(
                "release-gemini", overwrite=True
            )
        else:
            OpenAICredentials(api_key=API_KEY, base_url=emulator.openai_base_url).save(
                "release-openai", overwrite=True
            )
        with get_client(sync_client=True) as client:
            store = WaitStore(client)
            store.delete(store.names())  # other tests' runs
            flow_id = client.create_flow(run_batch)
            deployment = client.create_deployment(flow_id=flow_id, name="release-tests")
            yield Released(client, emulator, provider, deployment)
            store.delete(store.names())


def test_a_released_run_suspends_and_completes_once_the_poller_resumes_it(
    released: Released, asserting_events_worker: EventsWorker, reset_worker_events: None
) -> None:
    run = released.start()
    with pytest.raises(Pause):
        released.execute(run)
    assert released.state_names(run)[-1] == "Suspended"
    assert released.records(run) == 3  # one per part (5 requests, 2 per batch)
    assert released.creates == 3
    released.emulator.advance(600)
    poller = Poller(released.client, clock=lambda: time.time() + 3600)  # every poll is due
    assert poller.step().resumed == 1
    poller.close()
    assert released.client.read_flow_run(run.id).state_name == "Resuming"
    results = released.execute(run)
    assert isinstance(results, BatchResults)
    assert results.texts() == {
        r["custom_id"]: f"Emulated reply to: {r['prompt']}" for r in REQUESTS
    }
    assert released.creates == 3  # the second attempt's submits came from their records
    assert released.records(run) == 0
    assert released.client.read_flow_run(run.id).state_type == StateType.COMPLETED
    asserting_events_worker.drain()
    events = asserting_events_worker._client
    assert isinstance(events, AssertingEventsClient)
    ended = [e for e in events.events if e.event == "batchwork.batch.ended"]
    assert sorted(e.payload["part"] for e in ended) == [0, 1, 2]


def test_released_batches_are_first_polled_on_waits_schedule_spread_a_little(
    released: Released,
) -> None:
    run = released.start(poll_interval=30, max_poll_interval=300)
    with pytest.raises(Pause):
        released.execute(run)
    for record in WaitStore(released.client).read_run(str(run.id)):
        scheduled = first_poll(record.started, record.written, 30, 300)
        assert scheduled - 3 <= record.next_poll <= scheduled  # up to a tenth sooner


def test_a_batch_the_poller_cannot_poll_fails_the_resumed_run_with_the_error(
    released: Released,
) -> None:
    run = released.start()
    with pytest.raises(Pause):
        released.execute(run)
    released.save_block("sk-revoked-key")
    poller = Poller(released.client, clock=lambda: time.time() + 3600)  # every poll is due
    assert poller.step().resumed == 1  # a refused key is the run's to report
    poller.close()
    refused = "API_KEY_INVALID" if released.provider == "gemini" else "401"  # Google: a 400
    with pytest.raises(ProviderError, match=refused):
        released.execute(run)
    assert released.client.read_flow_run(run.id).state_type == StateType.FAILED


def test_a_resume_before_the_batches_ended_suspends_the_run_again(released: Released) -> None:
    run = released.start()
    with pytest.raises(Pause):
        released.execute(run)
    released.client.resume_flow_run(run.id)  # the UI's Resume
    with pytest.raises(Pause):
        released.execute(run)
    assert released.state_names(run).count("Suspended") == 2
    assert released.client.read_flow_run(run.id).state_type == StateType.PAUSED
    assert released.creates == 3
    assert released.records(run) == 3


def test_a_released_run_past_its_deadline_cancels_its_batches_and_fails(
    released: Released,
) -> None:
    """What a run resumed at its deadline does: the wait times out at once, as in process."""
    run = released.start(max_wait_seconds=0)
    with pytest.raises(BatchTimeoutError, match="cancel"):
        released.execute(run)
    assert "Suspended" not in released.state_names(run)
    assert released.emulator.calls[CANCELS[released.provider]] == 3
    assert released.records(run) == 0


def test_the_suspension_outlasts_the_deadline_by_an_hour(released: Released) -> None:
    """With no poller, Prefect fails the run an hour after its deadline, not before."""
    run = released.start(max_wait_seconds=7200)
    with pytest.raises(Pause):
        released.execute(run)
    current = released.client.read_flow_run(run.id)
    assert current.state is not None
    expires = current.state.state_details.pause_timeout
    assert expires is not None
    (record, *_) = WaitStore(released.client).read_run(str(run.id))
    assert record.deadline == pytest.approx(record.started + 7200)
    assert expires.timestamp() == pytest.approx(record.deadline + SUSPEND_GRACE, abs=5)


def test_a_resume_pressed_early_under_a_running_poller_leaves_the_run_to_the_poller(
    released: Released,
) -> None:
    """Resume pressed while the poller holds the run's records: the run suspends again
    under a new key, the poller's write-backs leave that key alone, and once the batches
    end it resumes the run (reading the records again: its own copy has the old key)."""
    run = released.start()
    with pytest.raises(Pause):
        released.execute(run)
    clock = Clock()
    poller = Poller(released.client, clock=clock, scan_seconds=10**9)  # no rescan after one
    report = poller.step()
    assert (report.polled, report.resumed) == (3, 0)
    first_key = released.pause_key(run)

    released.client.resume_flow_run(run.id)  # the UI's Resume, the batches still running
    with pytest.raises(Pause):
        released.execute(run)
    second_key = released.pause_key(run)
    assert second_key != first_key
    clock.now += 600
    assert poller.step().polled == 3  # its copies of the records: the old key
    records = WaitStore(released.client).read_run(str(run.id))
    assert {record.suspension for record in records} == {second_key}

    released.emulator.advance(600)
    resumed = 0
    for _ in range(3):  # its old copies end, the records read again, their batches polled
        clock.now += 600
        resumed += poller.step().resumed
    poller.close()
    assert resumed == 1
    assert released.state_names(run).count("Resuming") == 2  # the UI's and the poller's
    results = released.execute(run)
    assert isinstance(results, BatchResults)
    assert len(results.texts()) == len(REQUESTS)
    assert released.creates == 3
    assert released.records(run) == 0
    store = WaitStore(released.client)
    assert [name for name in store.names() if str(run.id) in name] != []  # the poller's own
    Poller(released.client).step()
    assert [name for name in store.names() if str(run.id) in name] == []


def test_a_rotated_block_key_is_loaded_again_and_the_run_keeps_waiting(
    released: Released,
) -> None:
    """The block's key rotated while the poller holds a client with the old one: the
    refused poll loads the block again and asks again; the run is not resumed for it."""
    run = released.start()
    with pytest.raises(Pause):
        released.execute(run)
    clock = Clock()
    poller = Poller(released.client, clock=clock, scan_seconds=10**9, concurrency=1)
    assert poller.step().polled == 3  # one client, made with the old key
    released.emulator.settings.api_key = "sk-rotated-key"
    released.save_block("sk-rotated-key")
    clock.now += 600
    report = poller.step()
    assert (report.polled, report.resumed) == (3, 0)
    records = WaitStore(released.client).read_run(str(run.id))
    assert [(r.error, r.failures, r.polls) for r in records] == [(None, 0, 2)] * 3
    assert released.client.read_flow_run(run.id).state_name == "Suspended"
    released.emulator.advance(600)
    clock.now += 600
    assert poller.step().resumed == 1
    poller.close()
    assert isinstance(released.execute(run), BatchResults)
    assert released.state_names(run).count("Resuming") == 1


def test_a_released_run_suspends_and_is_resumed_for_every_retry_round(
    released: Released,
) -> None:
    # q0 fails the first time (a passing fault), q1 expires the first two times
    requests = [
        {"custom_id": "q0", "prompt": "[[emulate:errored:overloaded_error:x1]] zero"},
        {"custom_id": "q1", "prompt": "[[emulate:expired:x2]] one"},
        {"custom_id": "q2", "prompt": "two"},
    ]
    run = released.start(requests=requests, max_requests_per_batch=None)
    poller = Poller(released.client, clock=lambda: time.time() + 3600)  # every poll is due
    for attempt in (1, 2, 3):
        with pytest.raises(Pause):
            released.execute(run)  # this round's batch runs: the run suspends
        assert released.state_names(run)[-1] == "Suspended"
        assert released.creates == attempt
        released.emulator.advance(600)
        assert poller.step(scan=True).resumed == 1, attempt  # each round: at its next scan
    poller.close()
    results = released.execute(run)
    assert isinstance(results, BatchResults)
    assert {r.custom_id: (r.status.value, r.attempts) for r in results.values()} == {
        "q0": ("succeeded", 2),
        "q1": ("succeeded", 3),
        "q2": ("succeeded", 1),
    }
    assert released.creates == 3
    names = released.state_names(run)
    assert names.count("Suspended") == 3 and names[-1] == "Completed"
