"""The API key never shows up in reprs, errors or logs, and goes only to the API origin."""

from __future__ import annotations

import logging

import pytest

from batchwork_prefect import ProviderError, UnsafeURLError, batch
from batchwork_prefect.emulator import Emulator, Fault
from tests.conftest import API_KEY

MODEL = "anthropic/claude-opus-4-8"


def test_key_is_not_in_reprs_errors_or_logs(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    job = batch(MODEL, [{"prompt": "x"}], api_key=API_KEY, base_url=emulator.base_url)
    emulator.add_fault(Fault(route="retrieve", status=401))
    with pytest.raises(ProviderError) as caught:
        job.poll()
    for text in (repr(job), repr(job._provider), str(caught.value), repr(caught.value)):
        assert API_KEY not in text
    assert API_KEY not in caplog.text
    assert caught.value.status_code == 401


def test_wrong_key_error_does_not_echo_the_key(emulator: Emulator) -> None:
    wrong = "sk-ant-wrong-key-987654321"
    with pytest.raises(ProviderError) as caught:
        batch(MODEL, [{"prompt": "x"}], api_key=wrong, base_url=emulator.base_url)
    assert caught.value.error_type == "authentication_error"
    assert wrong not in str(caught.value)


def test_auth_header_never_leaves_the_api_origin() -> None:
    with (
        Emulator() as elsewhere,
        Emulator(api_key=API_KEY, results_origin=elsewhere.base_url) as emu,
    ):
        job = batch(MODEL, [{"prompt": "x"}], api_key=API_KEY, base_url=emu.base_url)
        job.wait(poll_interval=0.01)
        with pytest.raises(UnsafeURLError):
            job.collect()
        assert all("x-api-key" not in headers for _, headers in elsewhere.requests_received)
        assert all(headers.get("x-api-key") == API_KEY for _, headers in emu.requests_received)
