"""Every parameter of the batch flows that can be checked is checked before the first create.

A parameter that only fails after the batch was created, awaited and read fails a Retry the
same way, and a rerun without an idempotency key pays for the batch again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.exceptions import ParameterTypeError
from prefect.filesystems import LocalFileSystem

from batchwork_prefect import (
    AnthropicCredentials,
    ConfigurationError,
    OpenAICredentials,
    load_batch_results,
    run_batch,
)
from batchwork_prefect.emulator import Emulator
from flows.prompts_file import batch_prompts_file
from tests.support import API_KEY
from tests.support.webhooks import Receiver

MODEL = "anthropic/claude-x"
REQUESTS = [{"custom_id": "fr", "prompt": "Capital of France? One word."}]
RAW_KEY = "sk-ant-raw-key-that-must-never-be-stored-0123456789"


def _credentials(emulator: Emulator) -> AnthropicCredentials:
    return AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)


BAD_PARAMETERS: dict[str, tuple[dict[str, Any], str]] = {
    "webhook url without secret block": (
        {"webhook_url": "https://hooks.example/batch"},
        "webhook_url needs webhook_secret_block",
    ),
    "webhook secret block not saved": (
        {
            "webhook_url": "https://hooks.example/batch",
            "webhook_secret_block": "no-such-webhook-secret",
        },
        "'no-such-webhook-secret' is not a saved Secret block",
    ),
    "webhook url not http": (
        {"webhook_url": "ftp://hooks.example/batch", "webhook_secret_block": "run-checks-secret"},
        r"webhook_url 'ftp://hooks.example/batch': .*http\(s\)",
    ),
    "webhook url without host": (
        {"webhook_url": "https:///batch", "webhook_secret_block": "run-checks-secret"},
        "webhook_url 'https:///batch'",
    ),
    "webhook secret block without url": (
        {"webhook_secret_block": "run-checks-secret"},
        "webhook_secret_block is set but webhook_url is empty",
    ),
    "storage misspelled type/name": (
        {"result_storage": "local-file-system/no-such-storage"},
        r"result storage 'local-file-system/no-such-storage' does not load .*prefect block ls",
    ),
    "storage without slash": (
        {"result_storage": "results"},
        r"result_storage: 'results' is not 'type/name'.*prefect block ls",
    ),
    "storage an int": ({"result_storage": 7}, r"result_storage: a int is not a storage block"),
    "storage a dict of fields": (
        {"result_storage": {"basepath": "/tmp/never"}},
        r"result_storage: a dict of block fields is not a saved block",
    ),
    "credentials block not saved": (
        {"credentials": "no-such-credentials"},
        r"cannot load the anthropic-credentials block 'no-such-credentials'.*save-credentials",
    ),
    "credentials of another provider": (
        {"credentials": OpenAICredentials(api_key=API_KEY)},
        "OpenAICredentials cannot be used for provider 'anthropic'",
    ),
    "credentials with an empty key": (
        {"credentials": AnthropicCredentials(api_key=" ")},
        "has an empty api_key",
    ),
    "idempotency key unfit": ({"idempotency_key": "a b"}, "idempotency_key 'a b' must be"),
}


@pytest.fixture(scope="module", autouse=True)
def webhook_secret() -> None:
    Secret(value="whsec_c2VjcmV0LWZvci1ydW4tY2hlY2tz").save("run-checks-secret", overwrite=True)


@pytest.mark.parametrize("bad", BAD_PARAMETERS.values(), ids=BAD_PARAMETERS.keys())
def test_a_bad_parameter_fails_before_the_first_create(
    emulator: Emulator, bad: tuple[dict[str, Any], str]
) -> None:
    given, message = bad
    parameters = {"credentials": _credentials(emulator), **given}
    with pytest.raises(ConfigurationError, match=message):
        run_batch(MODEL, REQUESTS, poll_interval=0.05, **parameters)
    assert emulator.calls["create"] == 0
    assert emulator.batches_created == 0


def test_no_credentials_and_no_env_key_fails_before_the_first_create(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        run_batch(MODEL, REQUESTS, poll_interval=0.05)
    assert emulator.calls["create"] == 0


@pytest.mark.parametrize(
    "given",
    [{"poll_interval": 0}, {"max_wait_seconds": -1}, {"max_requests_per_batch": 0}],
    ids=["poll_interval", "max_wait_seconds", "max_requests_per_batch"],
)
def test_numbers_out_of_range_fail_before_the_first_create(
    emulator: Emulator, given: dict[str, Any]
) -> None:
    with pytest.raises(ParameterTypeError, match=next(iter(given))):
        run_batch(MODEL, REQUESTS, credentials=_credentials(emulator), **given)
    assert emulator.calls["create"] == 0


def test_a_run_whose_parameters_check_out_runs(
    emulator: Emulator, receiver: Receiver, tmp_path: Path
) -> None:
    # the checks refuse nothing good: a saved secret and a storage block by name both run
    LocalFileSystem(basepath=str(tmp_path)).save("run-checks-storage", overwrite=True)
    results = run_batch(
        MODEL,
        REQUESTS,
        credentials=_credentials(emulator),
        poll_interval=0.05,
        result_storage="local-file-system/run-checks-storage",
        webhook_url=receiver.url,
        webhook_secret_block="run-checks-secret",
        idempotency_key="run-checks-good",
    )
    assert results.texts() == {"fr": "Paris"}
    assert emulator.calls["create"] == 1
    assert len(receiver.requests) == 1
    stored = load_batch_results("run-checks-good", storage="local-file-system/run-checks-storage")
    assert stored.texts() == {"fr": "Paris"}


def test_an_empty_webhook_url_means_no_webhook(emulator: Emulator) -> None:
    results = run_batch(
        MODEL, REQUESTS, credentials=_credentials(emulator), poll_interval=0.05, webhook_url=""
    )
    assert results.texts() == {"fr": "Paris"}


def test_a_storage_name_that_does_not_load_is_a_configuration_error_when_read() -> None:
    with pytest.raises(ConfigurationError, match="prefect block ls"):
        load_batch_results("any-key", storage="local-file-system/no-such-storage")


def test_the_prompts_file_flow_checks_its_output_folder_and_credentials_first(
    emulator: Emulator, tmp_path: Path
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"custom_id": "fr", "prompt": "Capital of France?"}\n')
    with pytest.raises(ConfigurationError, match="cannot load the anthropic-credentials block"):
        batch_prompts_file(str(prompts), model=MODEL, credentials="no-such-credentials")
    (tmp_path / "prompts.jsonl.results.jsonl").mkdir()  # the output's name is taken
    with pytest.raises(ConfigurationError, match="cannot write the results"):
        batch_prompts_file(str(prompts), model=MODEL, credentials=_credentials(emulator))
    assert emulator.calls["create"] == 0


def _stored_parameters() -> str:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(limit=200)
    return json.dumps([run.parameters for run in runs])


@pytest.mark.parametrize("flow_name", ["run_batch", "batch_prompts_file"])
def test_a_raw_key_in_parameters_is_refused_before_the_run_stores_it(
    emulator: Emulator, tmp_path: Path, flow_name: str
) -> None:
    raw = {"api_key": RAW_KEY, "base_url": emulator.base_url}
    with pytest.raises(ConfigurationError, match="save-credentials") as caught:
        if flow_name == "run_batch":
            run_batch(MODEL, REQUESTS, credentials=raw)
        else:
            prompts = tmp_path / "prompts.jsonl"
            prompts.write_text('{"prompt": "Capital of France?"}\n')
            batch_prompts_file(str(prompts), model=MODEL, credentials=raw)
    assert RAW_KEY not in str(caught.value)
    assert RAW_KEY not in _stored_parameters()
    assert emulator.calls["create"] == 0


def test_a_run_created_elsewhere_with_a_raw_key_is_refused_before_its_code_runs(
    emulator: Emulator,
) -> None:
    from prefect.flow_engine import run_flow

    # the API stored this key when the run was created: only its code can still be refused
    raw = {"api_key": "sk-ant-stored-by-the-api", "base_url": emulator.base_url}
    with get_client(sync_client=True) as client:
        created = client.create_flow_run(
            run_batch, parameters={"model": MODEL, "requests": REQUESTS, "credentials": raw}
        )
    state = run_flow(
        run_batch, flow_run=created, parameters=created.parameters, return_type="state"
    )
    assert state.is_failed()
    with pytest.raises(ConfigurationError, match="raw api_key"):
        state.result()  # type: ignore[union-attr]
    assert emulator.calls["create"] == 0


def test_a_saved_block_keeps_its_key_out_of_the_parameters(emulator: Emulator) -> None:
    results = run_batch(MODEL, REQUESTS, credentials=_credentials(emulator), poll_interval=0.05)
    assert results.texts() == {"fr": "Paris"}
    assert API_KEY not in _stored_parameters()
