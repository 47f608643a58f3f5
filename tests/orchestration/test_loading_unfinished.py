"""`load_batch_results(<flow run id>)` of a run that has not finished says so, and its state."""

from __future__ import annotations

import uuid

import pytest
from prefect.client.orchestration import get_client
from prefect.exceptions import Pause
from prefect.flow_engine import run_flow

from batchwork_prefect import (
    AnthropicCredentials,
    ConfigurationError,
    ResultsNotReadyError,
    load_batch_results,
    run_batch,
)
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.wait_store import WaitStore
from tests.support import API_KEY


def test_a_suspended_release_run_is_said_to_be_unfinished() -> None:
    with (
        Emulator(api_key=API_KEY, processing_seconds=600, time_scale=0) as emulator,
        get_client(sync_client=True) as client,
    ):
        AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url).save(
            "unfinished-anthropic", overwrite=True
        )
        deployment = client.create_deployment(
            flow_id=client.create_flow(run_batch), name="unfinished-tests"
        )
        run = client.create_flow_run_from_deployment(
            deployment,
            parameters={
                "model": "anthropic/claude-opus-4-8",
                "requests": [{"custom_id": "fr", "prompt": "Capital of France?"}],
                "credentials": "unfinished-anthropic",
                "wait": "release",
            },
        )
        current = client.read_flow_run(run.id)
        try:
            with pytest.raises(Pause):
                run_flow(run_batch, flow_run=current, parameters=current.parameters)
            with pytest.raises(ResultsNotReadyError) as caught:
                load_batch_results(str(run.id))
        finally:
            store = WaitStore(client)
            store.delete(record.name for record in store.read_run(str(run.id)))
    message = str(caught.value)
    assert f"flow run {run.id} has not finished: it is Suspended (PAUSED)" in message
    assert "batchwork-prefect poller" in message
    assert emulator.calls["create"] == 1


def test_a_run_that_does_not_exist_keeps_the_no_data_message() -> None:
    with pytest.raises(ConfigurationError, match="no persisted batch data"):
        load_batch_results(str(uuid.uuid4()))
