"""Nothing Prefect keeps (results, state, logs, artifacts, events) contains the API key,
for either provider."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prefect.events.clients import AssertingEventsClient
from prefect.events.worker import EventsWorker
from prefect.settings import PREFECT_API_DATABASE_CONNECTION_URL

from batchwork_prefect import AnthropicCredentials, OpenAICredentials, run_batch
from batchwork_prefect.emulator import Emulator, Fault
from tests.support import API_KEY


def test_api_key_is_nowhere_under_the_prefect_home(emulator: Emulator, prefect_home: Path) -> None:
    credentials = AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)
    credentials.save("at-rest-creds", overwrite=True)
    run_batch(
        model="anthropic/claude-x",
        requests=[{"prompt": "hi"}],
        credentials=credentials,
        idempotency_key="at-rest",
        poll_interval=0.05,
    )
    run_batch(
        model="anthropic/claude-x",
        requests=[{"prompt": "hi again"}],
        credentials="at-rest-creds",
        poll_interval=0.05,
    )
    places = [path for path in prefect_home.rglob("*") if path.is_file()]
    database = PREFECT_API_DATABASE_CONNECTION_URL.value() or ""
    if database.startswith("sqlite"):
        places.append(Path(database.split("///", 1)[1]))
    assert any(path.name == "results.json" for path in places)
    needle = API_KEY.encode()
    leaked = [str(path) for path in places if path.exists() and needle in path.read_bytes()]
    assert leaked == []


def test_openai_api_key_is_nowhere_in_storage_events_or_logs(
    emulator: Emulator,
    prefect_home: Path,
    caplog: pytest.LogCaptureFixture,
    asserting_events_worker: EventsWorker,
    reset_worker_events: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    credentials = OpenAICredentials(
        api_key=API_KEY, base_url=emulator.openai_base_url, organization="org-1"
    )
    credentials.save("openai-at-rest-creds", overwrite=True)
    run_batch(
        model="openai/gpt-4o-mini",
        requests=[{"prompt": "hi"}, {"prompt": "x [[emulate:errored]]"}],
        credentials=credentials,
        idempotency_key="openai-at-rest",
        poll_interval=0.05,
    )
    emulator.add_fault(Fault(route="openai.files.create", status=401, body=API_KEY.encode()))
    failed = run_batch(
        model="openai/gpt-4o-mini",
        requests=[{"prompt": "hi again"}],
        credentials="openai-at-rest-creds",
        poll_interval=0.05,
        return_state=True,
    )
    assert failed.is_failed()
    asserting_events_worker.drain()
    client = asserting_events_worker._client
    assert isinstance(client, AssertingEventsClient)
    assert any(event.event == "batchwork.batch.ended" for event in client.events)
    assert all(API_KEY not in event.model_dump_json() for event in client.events)
    assert caplog.text and API_KEY not in caplog.text
    places = [path for path in prefect_home.rglob("*") if path.is_file()]
    database = PREFECT_API_DATABASE_CONNECTION_URL.value() or ""
    if database.startswith("sqlite"):
        places.append(Path(database.split("///", 1)[1]))
    assert any("openai-at-rest" in path.parts for path in places)
    needle = API_KEY.encode()
    leaked = [str(path) for path in places if path.exists() and needle in path.read_bytes()]
    assert leaked == []
