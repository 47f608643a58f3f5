"""Retry rounds in `run_batch`, for each provider, on a real Prefect server against the
emulator: what failed for passing reasons is sent again until it succeeds or has been sent
`max_attempts` times; one result per request; every round persisted and merged; a rerun
pays nothing; the failure policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.states import State

from batchwork_prefect import (
    BatchResults,
    IncompleteResultsError,
    ResultStatus,
    StoredRecordError,
    UnreconciledSubmissionError,
    load_batch_results,
    run_batch,
)
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.orchestration.artifact_keys import artifact_key
from tests.orchestration.test_run_batch_providers import PROVIDERS, Provider

# the emulator's markers: an outcome for the first N submissions of a custom_id, then success
ROUNDS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "busy", "prompt": "x [[emulate:errored:overloaded_error:x1]]"},
    {"custom_id": "late", "prompt": "x [[emulate:expired:x2]]"},
    {"custom_id": "bad", "prompt": "x [[emulate:errored:invalid_request_error]]"},
    {"custom_id": "stop", "prompt": "x [[emulate:canceled]]"},
]


def _run(provider: Provider, emulator: Emulator, **options: Any) -> State[BatchResults]:
    parameters: dict[str, Any] = {
        "model": provider.model,
        "requests": ROUNDS,
        "credentials": provider.credentials(emulator),
        "poll_interval": 0.05,
        **options,
    }
    state: State[BatchResults] = run_batch(**parameters, return_state=True)
    return state


def _submissions(emulator: Emulator, provider: Provider) -> dict[str, int]:
    return {r["custom_id"]: emulator.submissions(r["custom_id"], api=provider.name) for r in ROUNDS}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_passing_failures_are_sent_again_until_they_succeed_and_a_rerun_pays_nothing(
    provider: Provider,
    emulator: Emulator,
    prefect_home: Path,
    asserting_events_worker: EventsWorker,
    reset_worker_events: None,
) -> None:
    key = f"{provider.name}-rounds"
    state = _run(provider, emulator, idempotency_key=key)  # max_attempts: 3 by default
    assert state.is_completed()
    results = state.result()
    assert sorted(r.custom_id for r in results.values()) == sorted(r["custom_id"] for r in ROUNDS)
    assert {r.custom_id: (r.status.value, r.attempts) for r in results.values()} == {
        "fr": ("succeeded", 1),
        "busy": ("succeeded", 2),
        "late": ("succeeded", 3),
        "bad": ("errored", 1),  # the request's own fault: never sent again
        "stop": ("canceled", 1),  # someone asked for it
    }
    assert emulator.calls[provider.create_route] == 3  # round 2: busy, late; round 3: late
    assert _submissions(emulator, provider) == {"fr": 1, "busy": 2, "late": 3, "bad": 1, "stop": 1}
    assert len(results.batch_ids) == 3
    assert load_batch_results(key) == results  # every round persisted, merged the same way
    # each round's part under its own digest; the pointer lists each results key's attempt
    scope = prefect_home / "storage" / "batchwork" / key
    assert len({folder.parent.name for folder in scope.glob("*/part-0-*")}) == 3
    pointer = orjson.loads((scope / "latest.json").read_bytes())
    assert pointer["attempts"] == [1, 2, 3] and len(pointer["results"]) == 3

    asserting_events_worker.drain()
    client = asserting_events_worker._client
    assert isinstance(client, AssertingEventsClient)
    ended = [e for e in client.events if e.event == "batchwork.batch.ended"]
    assert sorted((e.payload["attempt"], e.payload["request_counts"]["total"]) for e in ended) == [
        (1, 5),
        (2, 2),
        (3, 1),
    ]

    run_id = state.state_details.flow_run_id
    with get_client(sync_client=True) as prefect:
        artifacts = prefect.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    [summary] = [
        a for a in artifacts if a.key == artifact_key("summary", key, label=f"run-batch-{key}")
    ]
    rows = orjson.loads(summary.data) if isinstance(summary.data, str) else summary.data
    fields = {row["field"]: row["value"] for row in rows}
    assert fields["round 1"].startswith("5 sent: ")
    assert fields["round 2"] == "2 sent: 1 succeeded, 1 expired"
    assert fields["round 3"] == "1 sent: 1 succeeded"
    assert fields["left failing"] == "2 (canceled: 1, invalid_request_error: 1)"
    # each round's cost, what the retries added, and the total over every round
    assert results.model == provider.model and results.cost is not None
    assert fields["round 2 cost"].startswith("$") and fields["round 3 cost"].startswith("$")
    assert fields["cost of the retries"].startswith("$")
    assert fields["cost"] == results.cost.describe()
    ids = results.batch_ids  # each round's part, by round
    assert [fields[f"part 1/1, round {n}"] for n in (1, 2, 3)] == [
        f"provider batch {one}" for one in ids
    ]
    # the preview: the requests' order, each request's last answer (merged over the rounds)
    [preview] = [
        a for a in artifacts if a.key == artifact_key("preview", key, label=f"run-batch-{key}")
    ]
    shown = orjson.loads(preview.data) if isinstance(preview.data, str) else preview.data
    assert [row["custom_id"] for row in shown] == [r["custom_id"] for r in ROUNDS]
    assert {row["custom_id"]: row["status"] for row in shown}["late"] == "succeeded"

    calls = dict(emulator.calls)
    again = _run(provider, emulator, idempotency_key=key)
    assert again.result() == results
    assert dict(emulator.calls) == calls  # a rerun after the last round calls no endpoint


@pytest.mark.parametrize("provider", PROVIDERS)
def test_max_attempts_1_sends_each_request_once(provider: Provider, emulator: Emulator) -> None:
    results = _run(provider, emulator, max_attempts=1).result()
    assert emulator.calls[provider.create_route] == 1
    assert {r.custom_id: r.status for r in results.values()} == {
        "fr": ResultStatus.SUCCEEDED,
        "busy": ResultStatus.ERRORED,
        "late": ResultStatus.EXPIRED,
        "bad": ResultStatus.ERRORED,
        "stop": ResultStatus.CANCELED,
    }
    assert {r.attempts for r in results.values()} == {1}


@pytest.mark.parametrize(
    ("allow_failed", "passes"),
    [(None, True), (0.4, True), (2, True), (0.39, False), (1, False), (0, False)],
)
def test_the_run_fails_when_more_are_left_failing_than_allowed_and_loses_nothing(
    emulator: Emulator, allow_failed: float | None, passes: bool
) -> None:
    provider = PROVIDERS[0].values[0]
    key = f"allow-{allow_failed}"
    state = _run(provider, emulator, idempotency_key=key, allow_failed=allow_failed)
    # two of five are left failing after three attempts: bad (its own fault) and stop
    assert state.is_completed() is passes
    if not passes:
        with pytest.raises(IncompleteResultsError, match="2 of 5 requests are left failing") as e:
            state.result()
        assert e.value.left == {"bad": "invalid_request_error", "stop": "canceled"}
    kept = load_batch_results(key)  # persisted either way
    assert kept.counts[ResultStatus.SUCCEEDED] == 3 and len(kept) == 5
    creates = emulator.calls[provider.create_route]
    # a rerun (as a Retry does) resumes from storage and pays nothing
    rerun = _run(provider, emulator, idempotency_key=key, allow_failed=allow_failed)
    assert rerun.is_completed() is passes
    assert emulator.calls[provider.create_route] == creates


def test_without_a_policy_the_run_completes_and_warns_of_what_is_left_failing(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    provider = PROVIDERS[0].values[0]
    with caplog.at_level("WARNING", logger="prefect.flow_runs"):
        state = _run(provider, emulator)
    assert state.is_completed()
    [warning] = [r.getMessage() for r in caplog.records if "left failing" in r.getMessage()]
    assert warning == (
        "2 of 5 requests are left failing after 3 attempt(s): "
        "bad (invalid_request_error), stop (canceled)"
    )


def test_a_rerun_follows_the_recorded_rounds_even_with_a_lower_max_attempts(
    emulator: Emulator, prefect_home: Path
) -> None:
    provider = PROVIDERS[0].values[0]
    first = _run(provider, emulator, idempotency_key="recorded-rounds").result()
    calls = dict(emulator.calls)
    again = _run(provider, emulator, idempotency_key="recorded-rounds", max_attempts=1)
    assert again.result() == first  # rounds 2 and 3 were paid for: they are read, from storage
    assert dict(emulator.calls) == calls
    [record] = (prefect_home / "storage" / "batchwork" / "recorded-rounds").glob("*/round-3.json")
    assert orjson.loads(record.read_bytes()) == {"attempt": 3, "custom_ids": ["late"]}
    record.write_bytes(b'{"attempt": 3, "custom_ids": ["nobody"]}')
    damaged = _run(provider, emulator, idempotency_key="recorded-rounds")
    with pytest.raises(StoredRecordError, match=r"round-3\.json"):
        damaged.result()


def test_a_lost_round_2_create_is_never_taken_for_round_1s_batch(emulator: Emulator) -> None:
    # every request fails in round 1, so round 2 has as many requests: an Anthropic lost
    # create is found by size and time, and round 1's batch must not be taken for it
    provider = PROVIDERS[0].values[0]
    both = [r for r in ROUNDS if r["custom_id"] in ("busy", "late")]
    state = _run(provider, emulator, requests=both, max_attempts=1, idempotency_key="lost-round-2")
    assert state.result().counts[ResultStatus.SUCCEEDED] == 0  # round 1: both failed
    emulator.add_fault(Fault(route="create", status=500))  # round 2's create: nothing made
    state = _run(provider, emulator, requests=both, max_attempts=2, idempotency_key="lost-round-2")
    assert state.is_failed()
    with pytest.raises(UnreconciledSubmissionError):
        state.result()
    assert emulator.batches_created == 1  # round 1's only, and it was not adopted


def test_two_runs_with_one_key_at_once_send_each_round_once(emulator: Emulator) -> None:
    import threading

    provider = PROVIDERS[0].values[0]
    states: list[State[BatchResults]] = []
    runs = [
        threading.Thread(
            target=lambda: states.append(_run(provider, emulator, idempotency_key="twins"))
        )
        for _ in range(2)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(300)
    assert len(states) == 2 and all(state.is_completed() for state in states)
    first, second = (state.result() for state in states)
    assert first == second
    assert emulator.calls[provider.create_route] == 3  # one batch per round, for both runs
    assert _submissions(emulator, provider) == {"fr": 1, "busy": 2, "late": 3, "bad": 1, "stop": 1}
