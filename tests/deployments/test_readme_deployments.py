"""The Deployments walkthrough (docs/deployments.md), run line by line as written, on a real
Prefect server.

The walkthrough (the first bash block of docs/deployments.md) runs in a fresh
clone of this repository's committed HEAD, as a new user's checkout would, with this test's
virtualenv first on PATH and the clone first on PYTHONPATH (so every process imports the
clone's `batchwork_prefect`; checked before anything runs). Nothing outside the walkthrough
talks to Prefect before it ends: its own `prefect config set` is what points every command at
the server (PREFECT_HOME is a fresh folder and no PREFECT_* variable is inherited).

The test rewrites only the documented placeholders, the ports: Prefect's 4200 and the
emulator's 8787 become free ports (the server's port through PREFECT_SERVER_API_PORT, as a
user whose 4200 is taken would set it). ANTHROPIC_API_KEY is removed from the environment,
so `save-credentials` takes the emulator path the walkthrough shows. The environment also
makes the worker poll every second instead of every 10 (PREFECT_WORKER_QUERY_SECONDS).

Lines ending in `&` start in the background in their own process group, and the next line
runs once a readiness poll (with a deadline) sees them up: the server's /api/health, the
emulator's port, the worker registered in its pool. Every background process, and any flow
run left under the worker, is killed at the end.

Then: each deployment that was run has exactly one flow run and it Completed, capital-cities
logged Paris and Tokyo, capital-cities-released (release mode) read its two results, the
prompts file got a results file with one line per prompt, and
the deployments load their flows from the clone (the pull step `prefect deploy` recorded).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.deployments.processes import Background, Shell
from tests.support.docs import doc_page, first_block
from tests.support.ports import free_port
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.crash, pytest.mark.deployments, pytest.mark.timeout(300)]

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
"""The scripts directory of the test's virtualenv (prefect, batchwork-prefect)."""

PREFECT_PORT = 4200
EMULATOR_PORT = 8787
BACKGROUND = re.compile(r"^(?P<command>[^#]*?)\s+&(?:\s+#.*)?$")


def walkthrough() -> list[str]:
    """The command lines of the first bash block of docs/deployments.md."""
    page = doc_page("deployments")
    assert page.startswith("# Deployments\n"), "docs/deployments.md is not the Deployments page"
    return [
        line.strip()
        for line in first_block(page, "bash").splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def with_ports(lines: list[str], prefect_port: int, emulator_port: int) -> list[str]:
    """The lines with the documented ports replaced (each must appear, or the page moved)."""
    replacements = {
        f"127.0.0.1:{PREFECT_PORT}": f"127.0.0.1:{prefect_port}",
        f"--port {EMULATOR_PORT}": f"--port {emulator_port}",
        f"127.0.0.1:{EMULATOR_PORT}": f"127.0.0.1:{emulator_port}",
    }
    text = "\n".join(lines)
    for old, new in replacements.items():
        assert old in text, f"the walkthrough no longer mentions {old!r}: update this test"
        text = text.replace(old, new)
    return text.splitlines()


def test_the_walkthrough_parses() -> None:
    lines = walkthrough()
    assert lines[0].startswith("prefect config set PREFECT_API_URL=")
    assert [line for line in lines if BACKGROUND.match(line)] == [
        line
        for line in lines
        if any(part in line for part in ("server start", "emulator", "worker start", "poller"))
    ]
    with_ports(lines, 1, 2)


def test_readme_deployments_walkthrough(
    tmp_path: Path, shell_factory: Callable[[Path, dict[str, str]], Shell]
) -> None:
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("needs a git checkout: the walkthrough runs in a clone of HEAD")
    checkout = tmp_path / "checkout"
    subprocess.run(
        ["git", "clone", "--quiet", str(REPO_ROOT), str(checkout)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    prefect_port, emulator_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{prefect_port}/api"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PREFECT") and key != "ANTHROPIC_API_KEY"
    }
    env.update(
        PATH=os.pathsep.join([str(BIN), env.get("PATH", "")]),
        PYTHONPATH=str(checkout),
        PYTHONUNBUFFERED="1",
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(prefect_port),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_UI_ENABLED="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="1",
    )
    shell = shell_factory(checkout, env)
    imported = shell.run("python -c 'import batchwork_prefect; print(batchwork_prefect.__file__)'")
    assert Path(imported.strip()).is_relative_to(checkout), imported

    def ready(line: str) -> Callable[[Background], bool]:
        if "prefect server start" in line:
            return lambda _: _healthy(api_url)
        if "batchwork-prefect emulator" in line:
            return lambda _: _listening(emulator_port)
        if "prefect worker start" in line:
            return lambda _: bool(_post(api_url, "/work_pools/batchwork/workers/filter", {}))
        if "batchwork-prefect poller" in line:
            return lambda job: "batchwork poller started" in job.tail()
        raise AssertionError(f"no readiness check for the background line {line!r}")

    for line in with_ports(walkthrough(), prefect_port, emulator_port):
        match = BACKGROUND.match(line)
        if match is None:
            shell.run(line)
            continue
        _start_and_wait(shell, line, match.group("command"), ready(line))
    print("\n".join(f"{seconds:6.1f} s  {line}" for seconds, line in shell.timings))

    deployments = {
        f"{flow['name']}/{deployment['name']}": deployment
        for deployment in _post(api_url, "/deployments/filter", {})
        for flow in [_get(api_url, f"/flows/{deployment['flow_id']}")]
    }
    for deployment in deployments.values():
        assert deployment["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(checkout)}}
        ]

    capital = _only_run(api_url, deployments["capital-cities/capital-cities"]["id"], shell)
    wait_until(
        lambda: {"fr: Paris", "jp: Tokyo"} <= _log_messages(api_url, capital["id"]),
        60,
        message=lambda: (
            f"capital-cities' answers in its logs: {_log_messages(api_url, capital['id'])}"
        ),
    )

    released = _only_run(api_url, deployments["run-batch/capital-cities-released"]["id"], shell)
    assert released["parameters"]["wait"] == "release"
    assert "Read 2 results" in " ".join(_log_messages(api_url, released["id"]))

    _only_run(api_url, deployments["batch-prompts-file/nightly-prompts-file"]["id"], shell)
    prompts = checkout / "flows" / "data" / "prompts.jsonl"
    asked = [orjson.loads(line) for line in prompts.read_bytes().splitlines() if line.strip()]
    results = prompts.with_name("prompts.jsonl.results.jsonl")
    answered = [orjson.loads(line) for line in results.read_bytes().splitlines()]
    assert [row["custom_id"] for row in answered] == [row["custom_id"] for row in asked]
    assert {row["status"] for row in answered} == {"succeeded"}
    texts = {row["custom_id"]: row["text"] for row in answered}
    assert (texts["fr"], texts["it"], texts["de"]) == ("Paris", "Rome", "Berlin")


def _start_and_wait(
    shell: Shell, line: str, command: str, ready: Callable[[Background], bool]
) -> None:
    """Start `command` in the background; return once `ready()`, fail if it exits first."""
    started = time.monotonic()
    job = shell.start(line, command)

    def up() -> bool:
        assert job.alive(), f"`{line}` exited {job.process.returncode}:\n{job.tail()}"
        return ready(job)

    wait_until(up, 120, interval=0.5, message=lambda: f"`{line}` to be up\n{job.tail()}")
    shell.timings.append((time.monotonic() - started, line))


def _only_run(api_url: str, deployment_id: str, shell: Shell) -> dict[str, Any]:
    """The deployment's one flow run, which must have Completed."""
    runs = _post(
        api_url, "/flow_runs/filter", {"flow_runs": {"deployment_id": {"any_": [deployment_id]}}}
    )
    assert len(runs) == 1, runs
    state = runs[0]["state"]
    assert state["type"] == "COMPLETED", f"{state['name']}: {state['message']}\n{shell.logs()}"
    return dict(runs[0])


def _log_messages(api_url: str, flow_run_id: str) -> set[str]:
    logs = _post(
        api_url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200}
    )
    return {str(log["message"]) for log in logs}


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return False
    return True


def _get(api_url: str, path: str) -> Any:
    response = httpx.get(f"{api_url}{path}", timeout=30)
    response.raise_for_status()
    return response.json()


def _post(api_url: str, path: str, body: dict[str, Any]) -> Any:
    response = httpx.post(f"{api_url}{path}", json=body, timeout=30)
    response.raise_for_status()
    return response.json()
