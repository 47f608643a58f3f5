"""`batchwork-prefect emulator`: a busy port, injected faults, the other emulator options."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from batchwork_prefect.cli._emulator import FAULT_SYNTAX
from batchwork_prefect.emulator import _fault_text
from tests.cli.helpers import COMMAND, HEADERS, ONE_REQUEST, emulator_process, flat, run


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another socket listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_busy_port_is_one_line_that_names_the_fix(busy_port: int) -> None:
    completed = subprocess.run(
        [*COMMAND, "emulator", "--port", str(busy_port)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr == (
        f"error: port {busy_port} on 127.0.0.1 is already in use: choose another --port, "
        "or --port 0 for a free one\n"
    )


def test_faults_from_the_command_line_answer_in_order() -> None:
    args = ["--processing-seconds", "3600", "--poll-retry-after", "4"]
    args += ["--fault", "retrieve:529:1:retry-after=7", "--fault", "list:503:2"]
    with emulator_process(*args) as (base_url, _), httpx.Client(headers=HEADERS) as client:
        batches = f"{base_url}/v1/messages/batches"
        created = client.post(batches, json=ONE_REQUEST)
        assert created.status_code == 200
        batch = f"{batches}/{created.json()['id']}"

        first, second = client.get(batch), client.get(batch)
        assert first.status_code == 529
        assert first.headers["retry-after"] == "7"
        assert first.json()["error"]["type"] == "overloaded_error"
        assert second.status_code == 200
        assert second.json()["processing_status"] == "in_progress"
        assert second.headers["retry-after"] == "4"  # --poll-retry-after

        assert [client.get(batches).status_code for _ in range(3)] == [503, 503, 200]


def test_the_queued_faults_are_listed_under_the_banner() -> None:
    with emulator_process("--fault", "create:500:after-create") as (_, process):
        assert process.stdout is not None
        assert process.stdout.readline() == "queued fault create:500:after-create\n"


def test_a_truncated_results_fault_cuts_the_body() -> None:
    fault = "results:truncate-after=10"
    with emulator_process("--processing-seconds", "0", "--fault", fault) as (base_url, _):
        batches = f"{base_url}/v1/messages/batches"
        batch_id = httpx.post(batches, json=ONE_REQUEST, headers=HEADERS).json()["id"]
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{batches}/{batch_id}/results", headers=HEADERS)
        whole = httpx.get(f"{batches}/{batch_id}/results", headers=HEADERS)
    assert whole.status_code == 200
    assert '"custom_id":"a"' in whole.text


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("retreive:500", "unknown route 'retreive'"),
        ("retrieve:five", "'five' is neither STATUS, TIMES nor an OPTION"),
        ("retrieve:500:1:2", "'2' is neither STATUS, TIMES nor an OPTION"),
        ("retrieve:700", "STATUS must be an HTTP status code"),
        ("retrieve:500:0", "TIMES must be at least 1"),
        ("retrieve:500:retry-after=-1", "retry-after='-1' is not valid"),
        ("retrieve:500:should-retry=maybe", "should-retry='maybe' is not valid"),
        ("retrieve:500:wait=3", "unknown option 'wait'"),
        ("retrieve:500:after-create", "after-create only applies to the routes create, openai"),
        ("results:500:truncate-after=5", "leave out STATUS or give 200"),
        ("results:truncate-after=5:retry-after=1", "cannot be combined"),
    ],
)
def test_bad_fault_syntax_is_a_usage_error(text: str, named: str) -> None:
    result = run("emulator", "--port", "0", "--fault", text)
    assert result.exit_code == 2
    message = flat(result.stderr)
    assert "Invalid value for '--fault'" in message
    assert named in message
    assert "ROUTE[:STATUS][:TIMES][:OPTION]..." in message


def test_the_help_names_the_emulators_fault_syntax() -> None:
    assert FAULT_SYNTAX == _fault_text.FAULT_SYNTAX
