"""Commands that need a Prefect server refuse to run without PREFECT_API_URL.

Prefect would otherwise start a temporary server of its own and the command would act on it:
the saved block or the automations would vanish with it. The `no_api_url` fixture makes a
temporary server's start fail the test.
"""

from __future__ import annotations

import pytest
from prefect.settings import PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK, temporary_settings

from tests.cli.helpers import run

SERVER_NEEDED = (
    "error: PREFECT_API_URL is not set: start a server (`prefect server start`) and "
    "`export PREFECT_API_URL=http://127.0.0.1:4200/api`, or use Prefect Cloud "
    "(`prefect cloud login`)\n"
)

pytestmark = pytest.mark.usefixtures("no_api_url")


@pytest.mark.parametrize(
    "args",
    [
        ["install-automations"],
        ["save-credentials", "anthropic", "--base-url", "http://127.0.0.1:8787"],
        ["resolve-submission", "batchwork/x/intent.json", "--resubmit", "--storage", "s3-bucket/r"],
        [
            "resolve-submission",
            "batchwork/x/intent.json",
            "--adopt",
            "msgbatch_1",
            "--credentials",
            "a",
        ],
        ["poller"],
        ["poller", "--once"],
        ["poller", "status"],
    ],
    ids=[
        "install-automations",
        "save-credentials",
        "resolve-submission --storage",
        "resolve-submission --credentials",
        "poller",
        "poller --once",
        "poller status",
    ],
)
def test_refuses_without_a_server(args: list[str]) -> None:
    result = run(*args, env={"ANTHROPIC_API_KEY": "sk-ant-never-used"})
    assert result.exit_code == 1
    assert result.stderr == SERVER_NEEDED
    assert result.stdout == ""


def test_save_credentials_asks_for_the_server_before_the_key() -> None:
    result = run("save-credentials", env={"ANTHROPIC_API_KEY": None}, input="sk-ant-typed\n")
    assert result.exit_code == 1
    assert "API key" not in result.output
    assert result.stderr == SERVER_NEEDED


def test_resolve_submission_refuses_when_the_default_storage_is_a_block() -> None:
    with temporary_settings(updates={PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK: "s3-bucket/results"}):
        result = run("resolve-submission", "batchwork/x/intent.json", "--resubmit")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: the default result storage is a block (s3-bucket/results); "
        + SERVER_NEEDED.removeprefix("error: ")
    )
