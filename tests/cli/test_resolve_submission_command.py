"""`batchwork-prefect resolve-submission`: flags, not Python parameters, and no stray server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH, temporary_settings

from batchwork_prefect import AnthropicCredentials, batch
from batchwork_prefect.cli._submissions import _in_flags
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.errors import ConfigurationError
from batchwork_prefect.orchestration.intents import (
    IntentState,
    SubmitIntent,
    resolve_submission,
)
from tests.cli.helpers import flat, run
from tests.support import API_KEY

TWO = [{"prompt": "one"}, {"prompt": "two"}]
KEY = f"batchwork/scope/{'ab' * 32}/part-0-{'cd' * 8}/intent.json"


@pytest.mark.parametrize("choice", [[], ["--adopt", "msgbatch_1", "--resubmit"]])
def test_exactly_one_choice_is_asked_for_in_flags(choice: list[str]) -> None:
    result = run("resolve-submission", KEY, *choice)
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert "give exactly one of --adopt BATCH_ID or --resubmit" in message
    assert "adopt=" not in message and "resubmit=True" not in message


def test_a_storage_that_is_not_type_slash_name_is_a_usage_error() -> None:
    result = run("resolve-submission", KEY, "--resubmit", "--storage", "results")
    assert result.exit_code == 2
    assert "'results' is not 'type/name'" in flat(result.stderr)


def test_library_messages_are_reworded_in_flags() -> None:
    with pytest.raises(ConfigurationError) as caught:
        resolve_submission(KEY)
    assert "adopt=" in str(caught.value)  # the library speaks Python ...
    reworded = _in_flags(str(caught.value))
    assert "--adopt BATCH_ID" in reworded and "--resubmit" in reworded
    assert "adopt=" not in reworded and "resubmit=True" not in reworded  # ... the command flags


@pytest.fixture
def local_storage(tmp_path: Path, no_api_url: None) -> Iterator[Path]:
    """The default result storage is a local folder and no Prefect server is configured."""
    with temporary_settings(updates={PREFECT_RESULTS_LOCAL_STORAGE_PATH: str(tmp_path)}):
        yield tmp_path


def _write_pending_intent(storage: Path) -> Path:
    path = storage / KEY
    path.parent.mkdir(parents=True)
    intent = SubmitIntent(
        provider="anthropic",
        model="claude-x",
        digest="ab" * 32,
        part=0,
        part_digest="cd" * 8,
        request_count=2,
        attempted_at=datetime.now(UTC),
        state=IntentState.PENDING,
    )
    path.write_text(intent.model_dump_json())
    return path


def _two_request_batch(emulator: Emulator) -> str:
    with batch("anthropic/claude-x", TWO, api_key=API_KEY, base_url=emulator.base_url) as made:
        return made.id


def test_adopting_on_local_storage_needs_no_server(local_storage: Path, emulator: Emulator) -> None:
    path = _write_pending_intent(local_storage)
    batch_id = _two_request_batch(emulator)
    env = {"ANTHROPIC_API_KEY": API_KEY, "ANTHROPIC_BASE_URL": emulator.base_url}
    result = run("resolve-submission", KEY, "--adopt", batch_id, env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{KEY}: the next run adopts {batch_id}; rerun the flow run now\n"
    settled = json.loads(path.read_text())
    assert (settled["state"], settled["batch_id"]) == ("created", batch_id)


def test_a_mistyped_adopt_is_refused_in_flags_and_not_recorded(
    local_storage: Path, emulator: Emulator
) -> None:
    path = _write_pending_intent(local_storage)
    env = {"ANTHROPIC_API_KEY": API_KEY, "ANTHROPIC_BASE_URL": emulator.base_url}
    result = run("resolve-submission", KEY, "--adopt", "msgbatch_mistyped", env=env)
    assert result.exit_code == 1
    assert "the provider does not know batch msgbatch_mistyped (HTTP 404)" in result.stderr
    assert "--credentials NAME" in result.stderr
    assert json.loads(path.read_text())["state"] == "pending"


@pytest.fixture
def server_storage(prefect_server: str, tmp_path: Path) -> Iterator[Path]:
    """A Prefect server is configured, and the default result storage is a local folder."""
    with temporary_settings(updates={PREFECT_RESULTS_LOCAL_STORAGE_PATH: str(tmp_path)}):
        yield tmp_path


def test_with_a_server_the_batch_is_checked_with_the_block_named_after_the_provider(
    server_storage: Path, emulator: Emulator
) -> None:
    path = _write_pending_intent(server_storage)
    batch_id = _two_request_batch(emulator)
    no_env = {"ANTHROPIC_API_KEY": None, "ANTHROPIC_BASE_URL": None}
    unsaved = run("resolve-submission", KEY, "--adopt", batch_id, env=no_env)
    assert unsaved.exit_code == 1
    assert "cannot load the anthropic-credentials block 'anthropic'" in unsaved.stderr
    assert "name the block with --credentials NAME" in flat(unsaved.stderr)
    AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url).save(
        "anthropic", overwrite=True
    )
    AnthropicCredentials(api_key="wrong-key", base_url=emulator.base_url).save(
        "anthropic-wrong", overwrite=True
    )
    refused = run(
        "resolve-submission",
        KEY,
        "--adopt",
        batch_id,
        "--credentials",
        "anthropic-wrong",
        env=no_env,
    )
    assert refused.exit_code == 1 and "401" in refused.stderr
    assert json.loads(path.read_text())["state"] == "pending"
    result = run("resolve-submission", KEY, "--adopt", batch_id, env=no_env)
    assert result.exit_code == 0, result.output
    assert json.loads(path.read_text())["batch_id"] == batch_id


def test_a_missing_intent_is_one_line(local_storage: Path) -> None:
    result = run("resolve-submission", KEY, "--resubmit")
    assert result.exit_code == 1
    assert result.stderr == f"error: no submit intent at {KEY!r}\n"


def test_a_rebuilt_intent_whose_id_does_not_say_its_provider_asks_for_provider(
    local_storage: Path,
) -> None:
    path = _write_pending_intent(local_storage)
    path.write_bytes(b"{damaged")
    result = run("resolve-submission", KEY, "--adopt", "mb_0123")
    assert result.exit_code == 1
    assert "give --provider anthropic or --provider openai" in result.stderr
    refused = run("resolve-submission", KEY, "--adopt", "mb_0123", "--provider", "openai")
    assert refused.exit_code == 1
    assert "'mb_0123' is not an OpenAI batch id" in refused.stderr
    assert path.read_bytes() == b"{damaged"  # nothing recorded
