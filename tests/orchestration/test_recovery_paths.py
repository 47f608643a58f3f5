"""Every path users take back into a batch: pipeline retries, reruns, damaged records.

All on the embedded Prefect server against the emulator over loopback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
from prefect.flow_engine import run_flow
from prefect.states import State

from batchwork_prefect import (
    AnthropicCredentials,
    BatchResults,
    ConfigurationError,
    StoredRecordError,
    load_batch_results,
    run_batch,
)
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.orchestration.intents import resolve_submission
from batchwork_prefect.orchestration.sealing import seal
from tests.support import API_KEY

MODEL = "anthropic/claude-opus-4-8"
CAPITALS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]
EXPECTED = {"fr": "Paris", "jp": "Tokyo"}


def _credentials(emulator: Emulator) -> AnthropicCredentials:
    return AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)


@flow(name="pipeline-with-two-batches", persist_result=False)
def pipeline(base_url: str, second_name: str | None = None) -> dict[str, str]:
    """A pipeline step: the same requests batched twice, as two subflow calls."""
    credentials = AnthropicCredentials(api_key=API_KEY, base_url=base_url)
    first = run_batch(MODEL, CAPITALS, credentials=credentials, poll_interval=0.05)
    second = run_batch(
        MODEL, CAPITALS, credentials=credentials, poll_interval=0.05, batch_name=second_name
    )
    return {**first.texts(), **{f"2-{key}": text for key, text in second.texts().items()}}


@flow(name="pipeline-with-a-retrying-subflow", persist_result=False)
def pipeline_retrying(base_url: str) -> dict[str, str]:
    """A pipeline whose run_batch subflow retries itself in this process."""
    credentials = AnthropicCredentials(api_key=API_KEY, base_url=base_url)
    retrying = run_batch.with_options(retries=1)
    return retrying(MODEL, CAPITALS, credentials=credentials, poll_interval=0.05).texts()


@flow(name="pipeline-calling-fn", persist_result=False)
def pipeline_fn(base_url: str) -> dict[str, str]:
    """A pipeline step that runs run_batch's tasks inside its own flow run."""
    credentials = AnthropicCredentials(api_key=API_KEY, base_url=base_url)
    return run_batch.fn(MODEL, CAPITALS, credentials=credentials, poll_interval=0.05).texts()


def _retry(flow_obj: Any, run_id: UUID, parameters: dict[str, Any]) -> State[Any]:
    """What the UI's Retry does (AwaitingRetry, forced), then the run on this process."""
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, State(type="SCHEDULED", name="AwaitingRetry"), force=True)
        flow_run = client.read_flow_run(run_id)
    state = run_flow(flow_obj, flow_run=flow_run, parameters=parameters, return_type="state")
    assert isinstance(state, State)
    return state


def _new_run(flow_obj: Any, parameters: dict[str, Any]) -> tuple[UUID, State[Any]]:
    with get_client(sync_client=True) as client:
        flow_run = client.create_flow_run(flow_obj, parameters=parameters)
    state = run_flow(flow_obj, flow_run=flow_run, parameters=parameters, return_type="state")
    assert isinstance(state, State)
    return flow_run.id, state


def test_a_retried_pipeline_resumes_its_subflow_batches(emulator: Emulator) -> None:
    # The first call's read fails: the pipeline run ends Failed after one create.
    emulator.add_fault(Fault(route="results", status=400))
    parameters = {"base_url": emulator.base_url}
    run_id, failed = _new_run(pipeline, parameters)
    assert failed.is_failed()
    assert emulator.calls["create"] == 1

    retried = _retry(pipeline, run_id, parameters)
    assert retried.is_completed(), retried
    assert retried.result() == {**EXPECTED, **{f"2-{k}": v for k, v in EXPECTED.items()}}
    # the first call resumed its batch; the second, with the same requests, made its own
    assert emulator.calls["create"] == 2
    assert emulator.batches_created == 2
    # the pipeline run's id finds its last batch; a call site finds its own
    last = load_batch_results(str(run_id))
    first = load_batch_results(f"{run_id}/call-1")
    assert last == load_batch_results(f"{run_id}/call-2")
    assert last.texts() == first.texts() == EXPECTED
    assert last.batch_ids != first.batch_ids


def test_a_named_call_site_keeps_its_name(emulator: Emulator) -> None:
    run_id, state = _new_run(
        pipeline, {"base_url": emulator.base_url, "second_name": "capitals-again"}
    )
    assert state.is_completed()
    assert load_batch_results(f"{run_id}/capitals-again").texts() == EXPECTED
    assert load_batch_results(str(run_id)) == load_batch_results(f"{run_id}/capitals-again")


def test_a_subflow_that_retries_itself_keeps_its_batch(emulator: Emulator) -> None:
    emulator.add_fault(Fault(route="results", status=400))  # its first attempt's read fails
    run_id, state = _new_run(pipeline_retrying, {"base_url": emulator.base_url})
    assert state.is_completed(), state
    assert state.result() == EXPECTED
    assert emulator.calls["create"] == 1  # the retry found the batch of its first attempt
    assert emulator.calls["results"] == 2
    with get_client(sync_client=True) as client:
        [subflow] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id])
            )
        )
    assert subflow.run_count == 2
    # the subflow run's own id finds its results too, as the pipeline run's does
    assert load_batch_results(str(subflow.id)) == load_batch_results(str(run_id))


def test_run_batch_fn_in_a_flow_is_scoped_to_that_flow_run(emulator: Emulator) -> None:
    emulator.add_fault(Fault(route="results", status=400))
    parameters = {"base_url": emulator.base_url}
    run_id, failed = _new_run(pipeline_fn, parameters)
    assert failed.is_failed()
    retried = _retry(pipeline_fn, run_id, parameters)
    assert retried.is_completed()
    assert retried.result() == EXPECTED
    assert emulator.calls["create"] == 1
    assert load_batch_results(str(run_id)).texts() == EXPECTED


@pytest.mark.parametrize("name", ["a/b", "../up", "x\n", ""])
def test_a_bad_batch_name_is_refused_before_anything_is_sent(emulator: Emulator, name: str) -> None:
    state = run_batch(
        MODEL, CAPITALS, credentials=_credentials(emulator), batch_name=name, return_state=True
    )
    if name == "":  # empty means: no name given
        assert state.is_completed()
        return
    assert state.is_failed()
    with pytest.raises(ConfigurationError, match="batch_name"):
        state.result()
    assert emulator.calls["create"] == 0


def test_a_rerun_after_the_read_calls_no_provider(emulator: Emulator) -> None:
    first = run_batch(
        MODEL, CAPITALS, credentials=_credentials(emulator), idempotency_key="no-calls"
    )
    calls = dict(emulator.calls)
    emulator.stop()  # the provider is unreachable now
    again = run_batch(
        MODEL, CAPITALS, credentials=_credentials(emulator), idempotency_key="no-calls"
    )
    assert again == first
    assert dict(emulator.calls) == calls


def _part_folder(prefect_home: Path, scope: str) -> Path:
    [folder] = (prefect_home / "storage" / "batchwork" / scope).glob("*/part-0-*")
    return folder


def _edit_result(path: Path, old: str, new: str) -> None:
    envelope = orjson.loads(path.read_bytes())
    assert old in envelope["result"]
    envelope["result"] = envelope["result"].replace(old, new)
    path.write_bytes(orjson.dumps(envelope))


def test_results_edited_by_hand_are_read_again_and_never_trusted(
    emulator: Emulator, prefect_home: Path
) -> None:
    first = run_batch(MODEL, CAPITALS, credentials=_credentials(emulator), idempotency_key="edit")
    results_path = _part_folder(prefect_home, "edit") / "results.json"
    _edit_result(results_path, "Paris", "Lyon")
    with pytest.raises(StoredRecordError, match=r"results\.json.*sha256") as caught:
        load_batch_results("edit")
    assert caught.value.key.endswith("results.json")

    downloads = emulator.calls["results"]
    again = run_batch(MODEL, CAPITALS, credentials=_credentials(emulator), idempotency_key="edit")
    assert isinstance(again, BatchResults)
    assert again.texts() == first.texts() == EXPECTED
    assert emulator.calls["results"] == downloads + 1  # read again from the provider
    assert emulator.calls["create"] == 1
    assert load_batch_results("edit").texts() == EXPECTED  # and stored whole again


@pytest.mark.parametrize(
    ("pointer", "problem"),
    [
        (b'{"results": ["batchwork/x', "not JSON: unexpected end of data"),
        (b'["batchwork/x/results.json"]', 'no "results" list of results keys'),
        (b'{"results": "batchwork/x/results.json"}', 'no "results" list of results keys'),
        (b'{"results": []}', 'no "results" list of results keys'),
        (b'{"results": [7]}', 'a "results" entry that is not a part\'s results.json key'),
        (
            b'{"results": ["batchwork/../../../etc/part-0-ab/results.json"]}',
            'a "results" entry that is not a part\'s results.json key',
        ),
    ],
)
def test_a_damaged_pointer_is_a_stored_record_error_naming_it(
    emulator: Emulator, prefect_home: Path, pointer: bytes, problem: str
) -> None:
    key = f"pointer-{uuid4().hex[:12]}"  # the storage outlives each test's emulator
    run_batch(MODEL, CAPITALS, credentials=_credentials(emulator), idempotency_key=key)
    (prefect_home / "storage" / "batchwork" / key / "latest.json").write_bytes(pointer)
    with pytest.raises(StoredRecordError) as caught:
        load_batch_results(key)
    assert caught.value.key == f"batchwork/{key}/latest.json"
    message = str(caught.value)
    assert message.startswith(f"'batchwork/{key}/latest.json' is not a results pointer ({problem}")
    assert "): it was edited or damaged. Rerun the flow that wrote it" in message
    # the way out the message names: the rerun reads the stored results, writes the pointer
    run_batch(MODEL, CAPITALS, credentials=_credentials(emulator), idempotency_key=key)
    assert load_batch_results(key).texts() == EXPECTED
    assert emulator.calls["create"] == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"batch_ids": ["msgbatch_x"], "results": 5}', "results: Input should be a valid array"),
        (b'{"batch_ids": "msgbatch_x"}', "batch_ids: Input should be a valid array"),
        (b'{"handle": "something else"}', "no batch_ids"),
        (
            b'{"results": [{"custom_id": 5}]}',
            "results.0.custom_id: Input should be a valid string",
        ),
    ],
)
def test_a_resealed_results_file_of_the_wrong_shape_is_a_stored_record_error(
    emulator: Emulator, prefect_home: Path, body: bytes, problem: str
) -> None:
    key = f"reseal-{uuid4().hex[:12]}"
    run_batch(MODEL, CAPITALS, credentials=_credentials(emulator), idempotency_key=key)
    results_path = _part_folder(prefect_home, key) / "results.json"
    envelope = orjson.loads(results_path.read_bytes())
    envelope["result"] = seal(body).decode()
    results_path.write_bytes(orjson.dumps(envelope))
    with pytest.raises(StoredRecordError) as caught:
        load_batch_results(key)
    assert caught.value.key.endswith("/results.json")
    assert str(caught.value).startswith(
        f"{caught.value.key!r} matches its sha256 digest but is not a persisted BatchResults "
        f"({problem})"
    )
    downloads = emulator.calls["results"]  # the way out it names: a rerun reads them again
    again = run_batch(MODEL, CAPITALS, credentials=_credentials(emulator), idempotency_key=key)
    assert again.texts() == load_batch_results(key).texts() == EXPECTED
    assert (emulator.calls["results"], emulator.calls["create"]) == (downloads + 1, 1)


def test_resealed_submit_and_ended_records_of_the_wrong_shape_are_not_trusted(
    emulator: Emulator, prefect_home: Path
) -> None:
    key = f"reseal-steps-{uuid4().hex[:12]}"
    first = run_batch(MODEL, CAPITALS, credentials=_credentials(emulator), idempotency_key=key)
    folder = _part_folder(prefect_home, key)
    for name, body in (("submit.json", b'{"submitted_at": 5}'), ("ended.json", b'{"id": 7}')):
        envelope = orjson.loads((folder / name).read_bytes())
        envelope["result"] = seal(body).decode()
        (folder / name).write_bytes(orjson.dumps(envelope))
    polls = emulator.calls["retrieve"]
    again = run_batch(MODEL, CAPITALS, credentials=_credentials(emulator), idempotency_key=key)
    assert again == first
    assert emulator.calls["create"] == 1  # the submit's intent names the batch: adopted
    assert emulator.calls["retrieve"] > polls  # the wait asked the provider again


def test_a_damaged_intent_stops_the_submit_and_names_the_way_out(
    emulator: Emulator, prefect_home: Path
) -> None:
    first = run_batch(
        MODEL, CAPITALS, credentials=_credentials(emulator), idempotency_key="damaged"
    )
    folder = _part_folder(prefect_home, "damaged")
    (folder / "submit.json").write_bytes(b'{"metadata": {}, "result": "not json')
    (folder / "intent.json").write_bytes(b'{"state": "created", "batch_id": 7}')
    state = run_batch(
        MODEL,
        CAPITALS,
        credentials=_credentials(emulator),
        idempotency_key="damaged",
        return_state=True,
    )
    assert state.is_failed()
    with pytest.raises(StoredRecordError) as caught:
        state.result()
    message = str(caught.value)
    assert "intent.json" in message and "resolve-submission" in message
    assert emulator.calls["create"] == 1  # nothing created on a record nobody can read

    # the way out the message names works on the damaged record itself
    settled = resolve_submission(
        caught.value.key, adopt=first.batch_ids[0], credentials=_credentials(emulator)
    )
    assert settled.state == "created" and settled.batch_id == first.batch_ids[0]
    again = run_batch(
        MODEL, CAPITALS, credentials=_credentials(emulator), idempotency_key="damaged"
    )
    assert again.texts() == EXPECTED
    assert emulator.calls["create"] == 1


def test_an_overload_burst_during_the_wait_is_ridden_out_and_shown(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    # a dozen 529s in a row: more than one poll's worth of the transport's own retries
    emulator.add_fault(Fault(route="retrieve", status=529, times=12, retry_after_ms=1))
    with caplog.at_level("WARNING", logger="prefect.task_runs"):
        results = run_batch(MODEL, CAPITALS, credentials=_credentials(emulator), poll_interval=0.05)
    assert results.texts() == EXPECTED
    assert emulator.calls["retrieve"] > 12 and emulator.calls["create"] == 1
    assert "failed 2 time(s) in a row; still waiting" in caplog.text


def test_failed_polls_show_in_the_progress_artifact() -> None:
    from datetime import UTC, datetime

    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterId

    from batchwork_prefect.errors import TransportError
    from batchwork_prefect.models import PartHandle
    from batchwork_prefect.orchestration.artifact_keys import artifact_key
    from batchwork_prefect.orchestration.reporting import Progress

    handle = PartHandle(
        provider="anthropic",
        model="m",
        digest="d" * 64,
        batch_id="msgbatch_1",
        custom_ids=["a"],
        submitted_at=datetime.now(UTC),
    )

    @flow
    def waiting() -> Any:
        progress = Progress(handle, "a-key")
        progress.failed(TransportError("could not connect", method="GET", url="u"), 3)
        return progress._artifact

    artifact_id = waiting()
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(id=ArtifactFilterId(any_=[artifact_id]))
        )
    # a keyed batch's label: the flow's name and the key
    assert artifact.key == artifact_key("progress", "a-key", 0, label="waiting-a-key")
    assert artifact.key.startswith("batchwork-progress-waiting-a-key-")
    assert artifact.description is not None
    assert "3 failed poll(s) in a row, retrying: could not connect" in artifact.description


RETRIED_ONCE = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "busy", "prompt": "x [[emulate:errored:overloaded_error:x1]]"},
]


@flow(name="pipeline-with-rounds", persist_result=False)
def pipeline_with_rounds(base_url: str) -> dict[str, int]:
    """A pipeline step whose batch takes two rounds; the step after it fails once."""
    credentials = AnthropicCredentials(api_key=API_KEY, base_url=base_url)
    results = run_batch(MODEL, RETRIED_ONCE, credentials=credentials, poll_interval=0.05)
    if not _STEP_AFTER_PASSES:
        _STEP_AFTER_PASSES.append(True)
        raise RuntimeError("the step after the batch failed")
    return {r.custom_id: r.attempts for r in results.values()}


_STEP_AFTER_PASSES: list[bool] = []


def test_a_retried_pipeline_takes_its_subflows_rounds_from_storage(emulator: Emulator) -> None:
    parameters = {"base_url": emulator.base_url}
    run_id, failed = _new_run(pipeline_with_rounds, parameters)
    assert failed.is_failed()
    assert emulator.calls["create"] == 2  # round 1, and round 2 for the overloaded request
    calls = dict(emulator.calls)
    retried = _retry(pipeline_with_rounds, run_id, parameters)
    assert retried.is_completed(), retried
    assert retried.result() == {"fr": 1, "busy": 2}
    assert dict(emulator.calls) == calls  # both rounds came from storage: no provider call
    assert emulator.submissions("busy") == 2
