"""`MessageBatchJob` / `MessageBatchJobRun`, Prefect's JobBlock / JobRun shape on the durable
machinery of `run_batch`: on a real Prefect server against the emulator, for each provider,
inside a flow and outside one, in sync and async code, saved and loaded by name."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from prefect import flow
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL, PREFECT_API_URL
from prefect.states import State
from prefect.testing.standard_test_suites import BlockStandardTestSuite

import batchwork_prefect
from batchwork_prefect import (
    BatchResults,
    BatchTimeoutError,
    ConfigurationError,
    IncompleteResultsError,
    InvalidBatchError,
    MessageBatchJob,
    MessageBatchJobRun,
    ResultsNotReadyError,
    load_batch_results,
    run_batch,
)
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration._sync import sync
from batchwork_prefect.orchestration.artifact_keys import artifact_key
from tests.orchestration.test_retry_rounds import ROUNDS
from tests.orchestration.test_run_batch_providers import CAPITALS, PROVIDERS, Provider
from tests.orchestration.test_typed_run_batch import TYPED, Capital
from tests.support import API_KEY
from tests.support.docs import doc_page, first_block


def _job(provider: Provider, emulator: Emulator, **fields: Any) -> MessageBatchJob:
    options: dict[str, Any] = {
        "model": provider.model,
        "requests": CAPITALS,
        "credentials": provider.credentials(emulator),
        "poll_interval": 0.05,
        **fields,
    }
    return MessageBatchJob(**options)


def _run_through(job: MessageBatchJob) -> tuple[MessageBatchJobRun, BatchResults]:
    run = job.trigger()
    run.wait_for_completion()
    return run, run.fetch_result()


class TestMessageBatchJobStandards(BlockStandardTestSuite):
    @pytest.fixture
    def block(self) -> type[Block]:
        return MessageBatchJob


@pytest.mark.parametrize("provider", PROVIDERS)
def test_trigger_wait_and_fetch_give_the_results_where_load_batch_results_finds_them(
    provider: Provider, emulator: Emulator, prefect_home: Path
) -> None:
    key = f"{provider.name}-job"
    run, results = _run_through(_job(provider, emulator, idempotency_key=key))
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert results.model == provider.model and results.batch_ids == run.batch_ids
    assert run.scope == key
    assert load_batch_results(key) == results
    assert emulator.calls[provider.create_route] == 1
    # outside any flow the part's claim names no flow run (never the text "None")
    [claim] = (prefect_home / "storage" / "batchwork" / key).rglob("claim-0.json")
    assert orjson.loads(claim.read_bytes())["flow_run_id"] is None


def test_run_batch_with_the_same_key_finds_the_jobs_records(emulator: Emulator) -> None:
    [_, provider] = [param.values[0] for param in PROVIDERS]
    _, results = _run_through(_job(provider, emulator, idempotency_key="job-then-flow"))
    downloads = emulator.calls[provider.results_route]
    again = run_batch(
        model=provider.model,
        requests=CAPITALS,
        credentials=provider.credentials(emulator),
        idempotency_key="job-then-flow",
        poll_interval=0.05,
    )
    assert again == results
    assert emulator.batches_created == 1
    assert emulator.calls[provider.results_route] == downloads


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_second_trigger_with_the_same_key_creates_nothing(
    provider: Provider, emulator: Emulator
) -> None:
    job = _job(provider, emulator, idempotency_key=f"{provider.name}-job-again")
    first = job.trigger()
    second = job.trigger()  # before the first was awaited: the same provider batch
    assert second.batch_ids == first.batch_ids and len(first.batch_ids) == 1
    assert emulator.batches_created == 1
    first.wait_for_completion()
    results = first.fetch_result()
    downloads = emulator.calls[provider.results_route]

    again, from_storage = _run_through(job)  # after it was read: everything from storage
    assert from_storage == results and again.batch_ids == first.batch_ids
    assert emulator.batches_created == 1
    assert emulator.calls[provider.results_route] == downloads


def test_the_retry_rounds_are_sent_while_waiting_and_every_round_is_persisted(
    emulator: Emulator,
) -> None:
    [provider] = [param.values[0] for param in PROVIDERS if param.id == "anthropic"]
    run = _job(provider, emulator, requests=ROUNDS, idempotency_key="job-rounds").trigger()
    assert emulator.batches_created == 1
    run.wait_for_completion()
    assert emulator.batches_created == 3  # round 2: busy, late; round 3: late
    creates = emulator.calls[provider.create_route]
    results = run.fetch_result()
    assert emulator.calls[provider.create_route] == creates  # fetching sends nothing
    assert {r.custom_id: (r.status.value, r.attempts) for r in results.values()} == {
        "fr": ("succeeded", 1),
        "busy": ("succeeded", 2),
        "late": ("succeeded", 3),
        "bad": ("errored", 1),
        "stop": ("canceled", 1),
    }
    assert results.batch_ids == run.batch_ids and len(run.batch_ids) == 3
    assert load_batch_results("job-rounds") == results


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_typed_job_parses_each_answer_by_its_json_schema(
    provider: Provider, emulator: Emulator
) -> None:
    schema = Capital.model_json_schema()
    key = f"{provider.name}-typed-job"
    job = _job(provider, emulator, requests=TYPED, output=schema, idempotency_key=key)
    _, results = _run_through(job)
    fr, off, cut = results["fr"], results["off"], results["cut"]
    assert isinstance(fr.parsed, dict) and Capital.model_validate(fr.parsed).city
    assert (off.status.value, off.attempts, type(off.parsed)) == ("succeeded", 2, dict)
    assert cut.error is not None and cut.error.type == "invalid_output"
    assert load_batch_results(key, output=Capital)["fr"].parsed == Capital.model_validate(fr.parsed)


def test_more_failures_than_allowed_fail_fetch_result_after_persisting(
    emulator: Emulator,
) -> None:
    [provider] = [param.values[0] for param in PROVIDERS if param.id == "openai"]
    job = _job(
        provider, emulator, requests=ROUNDS, max_attempts=1, allow_failed=0, idempotency_key="job-x"
    )
    run = job.trigger()
    run.wait_for_completion()
    with pytest.raises(IncompleteResultsError, match="4 of 5 requests are left failing"):
        run.fetch_result()
    assert load_batch_results("job-x").texts()["fr"] == "Paris"


def test_fetch_result_before_the_wait_says_to_wait_first(emulator: Emulator) -> None:
    [provider, _] = [param.values[0] for param in PROVIDERS]
    run = _job(provider, emulator, idempotency_key="job-early").trigger()
    with pytest.raises(ResultsNotReadyError, match=r"call wait_for_completion\(\)"):
        run.fetch_result()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_bad_request_fails_at_trigger_and_nothing_is_created(
    provider: Provider, emulator: Emulator, prefect_home: Path
) -> None:
    requests = [{"custom_id": "fr", "prompt": "Hi"}, {"custom_id": "fr"}]
    job = _job(provider, emulator, requests=requests, idempotency_key=f"{provider.name}-bad")
    with pytest.raises(InvalidBatchError) as caught:
        job.trigger()
    assert "requests[1]" in str(caught.value)
    assert emulator.batches_created == 0 and emulator.calls[provider.create_route] == 0
    assert not (prefect_home / "storage" / "batchwork" / f"{provider.name}-bad").exists()


def test_without_a_key_outside_a_flow_it_is_refused_before_anything_is_sent(
    emulator: Emulator,
) -> None:
    [provider, _] = [param.values[0] for param in PROVIDERS]
    with pytest.raises(ConfigurationError, match="run it inside a flow or pass idempotency_key"):
        _job(provider, emulator).trigger()
    assert emulator.batches_created == 0


@pytest.mark.parametrize("provider", PROVIDERS)
def test_inside_a_flow_a_keyless_job_belongs_to_the_flow_run(
    provider: Provider, emulator: Emulator
) -> None:
    job = _job(provider, emulator)

    @flow
    def pipeline() -> tuple[str, BatchResults]:
        run, results = _run_through(job)
        return run.scope, results

    state: State[tuple[str, BatchResults]] = pipeline(return_state=True)
    scope, results = state.result()
    run_id = state.state_details.flow_run_id
    assert run_id is not None and scope == f"{run_id}/call-1"
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert load_batch_results(str(run_id)) == results == load_batch_results(scope)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    keys = {artifact.key for artifact in artifacts}
    with get_client(sync_client=True) as client:
        label = f"{client.read_flow_run(run_id).name}-call-1"  # the run's name, not its id
    assert {artifact_key(kind, scope, label=label) for kind in ("summary", "preview")} <= keys


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_async_call_style_inside_an_async_flow_and_outside_one(
    provider: Provider, emulator: Emulator
) -> None:
    job = _job(provider, emulator)

    @flow
    async def pipeline() -> BatchResults:
        run = await job.trigger()  # type: ignore[misc]  # async_dispatch: a coroutine here
        await run.wait_for_completion()
        results: BatchResults = await run.fetch_result()
        return results

    assert asyncio.run(pipeline()).texts() == {"fr": "Paris", "jp": "Tokyo"}

    async def outside() -> BatchResults:
        keyed = job.model_copy(update={"idempotency_key": f"{provider.name}-async"})
        run = await keyed.atrigger()
        await run.await_for_completion()
        return await run.afetch_result()

    results = asyncio.run(outside())
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert load_batch_results(f"{provider.name}-async") == results
    assert emulator.batches_created == 2


def test_a_saved_job_loads_by_name_and_keeps_no_key_anywhere(
    emulator: Emulator, prefect_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    [provider, _] = [param.values[0] for param in PROVIDERS]
    _job(provider, emulator, idempotency_key="saved-job").save("capitals", overwrite=True)
    loaded = MessageBatchJob.load("capitals")
    assert loaded.credentials is not None
    assert loaded.credentials.api_key.get_secret_value() == API_KEY
    run, results = _run_through(loaded)
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert load_batch_results("saved-job") == results
    shown = [repr(loaded), str(loaded), repr(run), str(loaded.model_dump()), caplog.text]
    assert caplog.text and all(API_KEY not in one for one in shown)
    places = [path for path in prefect_home.rglob("*") if path.is_file()]
    database = PREFECT_API_DATABASE_CONNECTION_URL.value() or ""
    if database.startswith("sqlite"):
        places.append(Path(database.split("///", 1)[1]))
    assert any("saved-job" in path.parts for path in places)
    needle = API_KEY.encode()
    leaked = [str(path) for path in places if path.exists() and needle in path.read_bytes()]
    assert leaked == []


def test_a_timeout_cancels_the_parts_and_fails_the_wait() -> None:
    [provider, _] = [param.values[0] for param in PROVIDERS]
    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        job = _job(
            provider, emu, max_requests_per_batch=1, max_wait_seconds=0.2, idempotency_key="job-t"
        )
        run = job.trigger()
        assert len(run.batch_ids) == 2
        with pytest.raises(BatchTimeoutError, match="cancellation was requested"):
            run.wait_for_completion()
        assert emu.calls[provider.cancel_route] == 2  # the awaited part and the one after it


def test_a_prefect_coroutine_is_run_off_the_event_loop_and_refused_on_it() -> None:
    async def answer() -> int:
        return 42

    assert sync(answer()) == 42  # this thread runs no event loop: run to its end

    async def on_the_loop() -> None:
        sync(answer())

    with pytest.raises(ConfigurationError, match=r"asyncio\.to_thread"):
        asyncio.run(on_the_loop())


def test_the_block_is_registered_with_the_others() -> None:
    found = [
        cls.get_block_type_slug()
        for _, cls in inspect.getmembers(batchwork_prefect)
        if inspect.isclass(cls) and Block.is_block_class(cls)
    ]
    assert "message-batch-job" in found
    assert Block.get_block_class_from_key("message-batch-job") is MessageBatchJob
    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    completed = subprocess.run(
        [sys.executable, "-m", "prefect", "block", "register", "-m", "batchwork_prefect"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "Message Batch Job" in completed.stdout


def test_the_docs_example_runs_as_written(emulator: Emulator) -> None:
    page = doc_page("job-block")  # the JobBlock page, its first example
    assert page.startswith("# JobBlock\n")
    code = first_block(page, "python")
    loaded, key = 'AnthropicCredentials.load("anthropic")', '"2026-11-25"'
    assert loaded in code and key in code
    [provider, _] = [param.values[0] for param in PROVIDERS]
    scope: dict[str, Any] = {"__name__": "docs", "CREDENTIALS": provider.credentials(emulator)}
    # compiled on its own: this module's `from __future__ import annotations` is not the page's
    runnable = code.replace(loaded, "CREDENTIALS").replace(key, '"readme-job"')
    exec(compile(runnable, "docs/job-block.md", "exec", dont_inherit=True), scope)
    claimed = code.split('results["fr"].text  # ', 1)[1].splitlines()[0]
    assert scope["results"]["fr"].text == orjson.loads(claimed) == "Paris"
    assert load_batch_results("readme-job") == scope["results"]
