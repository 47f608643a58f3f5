"""Release mode is refused, before anything is submitted, where Prefect cannot suspend."""

from __future__ import annotations

from typing import Any

import pytest
from prefect import flow
from prefect.exceptions import ParameterTypeError

from batchwork_prefect import AnthropicCredentials, ConfigurationError, run_batch
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.release import credentials_name
from tests.support import API_KEY

REQUESTS = [{"custom_id": "fr", "prompt": "Capital of France? One word."}]


def _parameters(emulator: Emulator) -> dict[str, Any]:
    return {
        "model": "anthropic/claude-opus-4-8",
        "requests": REQUESTS,
        "credentials": AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url),
        "wait": "release",
    }


def test_a_run_without_a_deployment_is_refused(emulator: Emulator) -> None:
    with pytest.raises(ConfigurationError, match=r"no deployment.*run_deployment"):
        run_batch(**_parameters(emulator))
    assert emulator.calls["create"] == 0


def test_a_subflow_is_refused_with_the_way_to_call_the_deployment(emulator: Emulator) -> None:
    @flow
    def pipeline() -> None:
        run_batch(**_parameters(emulator))

    with pytest.raises(ConfigurationError, match=r"cannot suspend a subflow.*as_subflow=False"):
        pipeline()
    assert emulator.calls["create"] == 0


def test_run_batch_fn_inside_another_flow_is_refused(emulator: Emulator) -> None:
    @flow(name="my-pipeline")
    def pipeline() -> None:
        run_batch.fn(**_parameters(emulator))

    with pytest.raises(ConfigurationError, match="whole flow run of 'my-pipeline'"):
        pipeline()
    assert emulator.calls["create"] == 0


def test_run_batch_fn_outside_a_flow_is_refused(emulator: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="suspends a flow run"):
        run_batch.fn(**_parameters(emulator))
    assert emulator.calls["create"] == 0


def test_an_unknown_wait_mode_is_a_parameter_error(emulator: Emulator) -> None:
    with pytest.raises(ParameterTypeError, match=r"in_process.*release"):
        run_batch(**{**_parameters(emulator), "wait": "sleep"})
    assert emulator.calls["create"] == 0


def test_the_poller_loads_credentials_by_their_saved_name(emulator: Emulator) -> None:
    block = AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)
    with pytest.raises(ConfigurationError, match=r"block.save\('NAME'\).*by its name"):
        credentials_name(block)
    block.save("release-saved", overwrite=True)
    assert credentials_name(AnthropicCredentials.load("release-saved")) == "release-saved"
    assert credentials_name("anthropic") == "anthropic"
    assert credentials_name(None) is None
