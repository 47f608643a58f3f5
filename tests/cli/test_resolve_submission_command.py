"""`batchwork-prefect resolve-submission`: flags, not Python parameters, and no stray server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH, temporary_settings

from batchwork_prefect.cli import _in_flags
from batchwork_prefect.errors import ConfigurationError
from batchwork_prefect.orchestration.submission import (
    IntentState,
    SubmitIntent,
    resolve_submission,
)
from tests.cli.helpers import flat, run

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


def test_adopting_on_local_storage_needs_no_server(local_storage: Path) -> None:
    path = _write_pending_intent(local_storage)
    result = run("resolve-submission", KEY, "--adopt", "msgbatch_01")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{KEY}: the next run adopts msgbatch_01; rerun the flow run now\n"
    settled = json.loads(path.read_text())
    assert (settled["state"], settled["batch_id"]) == ("created", "msgbatch_01")


def test_a_missing_intent_is_one_line(local_storage: Path) -> None:
    result = run("resolve-submission", KEY, "--resubmit")
    assert result.exit_code == 1
    assert result.stderr == f"error: no submit intent at {KEY!r}\n"
