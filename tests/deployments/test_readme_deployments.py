"""The Deployments walkthrough (docs/deployments.md), run line by line as written, on a real
Prefect server.

The walkthrough (the first bash block of docs/deployments.md) runs in a fresh clone of this
repository's committed HEAD, as a new user's checkout would, in the environment of a shell
where only the clone's virtualenv was activated: the test's environment without its
virtualenv, PYTHONPATH, PYTHONUNBUFFERED, any PREFECT_* variable or ANTHROPIC_API_KEY, with
HOME a fresh folder (so Prefect's profile and database are new). The clone's `.venv` is a
virtualenv whose packages are the test's (a .pth file) with the clone first on its path, and
with the `prefect` and `batchwork-prefect` scripts; that it imports the clone's
`batchwork_prefect` is checked before anything runs. Nothing outside the walkthrough talks to
Prefect before it ends.

The block's first lines (the activation, the ports) set the shell up: each later line runs
after them, as in one terminal. The test changes only the ports line, to free ports, as a
user whose 4200 is taken would; no other line may name a port.

Lines ending in `&` start in the background in their own process group, and the next line
runs once a readiness poll (with a deadline) sees them up: the server's /api/health, the
emulator's port, the worker registered in its pool. Every background process, and any flow
run left under the worker, is killed at the end.

Then: each deployment that was run has exactly one flow run and it Completed (its `--watch`
said so), capital-cities logged Paris and Tokyo, capital-cities-released (release mode) was
Suspended while its batch ran, then started again by the worker, and read its two results,
the prompts file got a results file with one line per prompt, and the deployments load
their flows from the clone (the pull step `prefect deploy` recorded). Last, a run that fails
ends its `--watch` as the page says, and the page's `prefect flow-run logs` shows its error.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from harness import BIN, REPO_ROOT, api_healthy, free_port, wait_until
from tests.deployments.processes import Background, Shell
from tests.support.docs import doc_page, first_block

pytestmark = [pytest.mark.crash, pytest.mark.deployments, pytest.mark.timeout(420)]

ACTIVATE = "source .venv/bin/activate"
PORTS = re.compile(r"^PREFECT_PORT=(?P<prefect>\d+) EMULATOR_PORT=(?P<emulator>\d+)(?:\s+#.*)?$")
BACKGROUND = re.compile(r"^(?P<command>[^#]*?)\s+&(?:\s+#.*)?$")
SUCCEEDED = "Flow run finished successfully in 'Completed'."
FAILED = "Flow run finished in state 'Failed'."
LOGS_COMMAND = re.compile(r"`(?P<command>prefect flow-run logs) UUID`")
UUID_LINE = re.compile(r"└── UUID: (?P<id>[0-9a-f-]{36})")


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
    """The lines with the ports line set to these ports; the only line naming a port."""
    assert lines[0] == ACTIVATE, "the walkthrough no longer starts by activating the venv"
    ports = PORTS.match(lines[1])
    assert ports, f"the walkthrough's second line no longer sets the two ports: {lines[1]!r}"
    for line in lines[2:]:
        for port in ports.groupdict().values():
            assert not re.search(rf"\b{port}\b", line), f"{line!r} names port {port}"
    return [
        lines[0],
        f"PREFECT_PORT={prefect_port} EMULATOR_PORT={emulator_port}",
        *lines[2:],
    ]


def test_the_walkthrough_parses() -> None:
    lines = walkthrough()
    assert lines[2].startswith("prefect config set PREFECT_API_URL=")
    assert [line for line in lines if BACKGROUND.match(line)] == [
        line
        for line in lines
        if any(part in line for part in ("server start", "emulator", "worker start", "poller"))
    ]
    ported = with_ports(lines, 1, 2)
    assert ported[1] == "PREFECT_PORT=1 EMULATOR_PORT=2" and ported[2:] == lines[2:]
    for line in lines[2:]:
        if "127.0.0.1" in line or "--port" in line:
            assert "$PREFECT_PORT" in line or "$EMULATOR_PORT" in line, line
    assert LOGS_COMMAND.search(doc_page("deployments"))


def newcomer_checkout(tmp_path: Path) -> Path:
    """A clone of HEAD with a `.venv` holding the test's packages, the clone first."""
    checkout = tmp_path / "checkout"
    subprocess.run(
        ["git", "clone", "--quiet", str(REPO_ROOT), str(checkout)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    venv = checkout / ".venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    # Plain path lines: the test venv's own .pth files (its editable install of this
    # worktree) are not read, so `batchwork_prefect` is the clone's.
    packages = sysconfig.get_paths()["purelib"]
    (venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}").joinpath(
        "site-packages", "newcomer.pth"
    ).write_text(f"{checkout}\n{packages}\n", encoding="utf-8")
    for script in ("prefect", "batchwork-prefect"):
        text = (BIN / script).read_text(encoding="utf-8")
        target = venv / "bin" / script
        target.write_text(
            f"#!{venv / 'bin' / 'python'}\n" + text.split("\n", 1)[1], encoding="utf-8"
        )
        target.chmod(0o755)
    return checkout


def newcomer_env(home: Path) -> dict[str, str]:
    """The test's environment as a shell before activating a virtualenv, HOME fresh."""
    dropped = {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONUNBUFFERED", "ANTHROPIC_API_KEY", "HOME"}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("PREFECT") and key not in dropped
    }
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep) if Path(part) != BIN
    )
    home.mkdir()
    env["HOME"] = str(home)
    return env


def test_readme_deployments_walkthrough(
    tmp_path: Path, shell_factory: Callable[[Path, dict[str, str]], Shell]
) -> None:
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("needs a git checkout: the walkthrough runs in a clone of HEAD")
    checkout = newcomer_checkout(tmp_path)
    prefect_port, emulator_port = free_port(), free_port()
    api_url = f"http://127.0.0.1:{prefect_port}/api"
    shell = shell_factory(checkout, newcomer_env(tmp_path / "home"))
    lines = with_ports(walkthrough(), prefect_port, emulator_port)
    shell.prelude = lines[:2]
    imported = shell.run("python -c 'import batchwork_prefect; print(batchwork_prefect.__file__)'")
    assert Path(imported.strip()).is_relative_to(checkout), imported

    def ready(line: str) -> Callable[[Background], bool]:
        if "prefect server start" in line:
            return lambda _: api_healthy(api_url)
        if "batchwork-prefect emulator" in line:
            return lambda _: _listening(emulator_port)
        if "prefect worker start" in line:
            return lambda _: bool(_post(api_url, "/work_pools/batchwork/workers/filter", {}))
        if "batchwork-prefect poller" in line:
            return lambda job: "batchwork poller started" in job.tail()
        raise AssertionError(f"no readiness check for the background line {line!r}")

    watched: dict[str, str] = {}
    for line in lines[2:]:
        match = BACKGROUND.match(line)
        if match is None:
            output = shell.run(line)
            if "--watch" in line:
                watched[shlex.split(line)[3]] = output
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
    assert set(watched) == {
        "capital-cities/capital-cities",
        "run-batch/capital-cities-released",
        "batch-prompts-file/nightly-prompts-file",
    }
    for name, output in watched.items():
        run = _only_run(api_url, deployments[name]["id"], shell)
        uuid = UUID_LINE.search(output)
        assert uuid and uuid.group("id") == run["id"], output
        assert SUCCEEDED in output, output

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
    history = [state["name"] for state in _states(api_url, released["id"])]
    assert "Suspended" in history, history
    after = history[history.index("Suspended") + 1 :]
    # Started again by the worker: the process that suspended had exited, its slot free.
    assert "Pending" in after and "Running" in after and after[-1] == "Completed", history
    assert "Suspended" in watched["run-batch/capital-cities-released"]

    _only_run(api_url, deployments["batch-prompts-file/nightly-prompts-file"]["id"], shell)
    prompts = checkout / "flows" / "data" / "prompts.jsonl"
    asked = [orjson.loads(line) for line in prompts.read_bytes().splitlines() if line.strip()]
    results = prompts.with_name("prompts.jsonl.results.jsonl")
    answered = [orjson.loads(line) for line in results.read_bytes().splitlines()]
    assert [row["custom_id"] for row in answered] == [row["custom_id"] for row in asked]
    assert {row["status"] for row in answered} == {"succeeded"}
    texts = {row["custom_id"]: row["text"] for row in answered}
    assert (texts["fr"], texts["it"], texts["de"]) == ("Paris", "Rome", "Berlin")

    _a_failed_run_points_at_its_logs(shell)


def _a_failed_run_points_at_its_logs(shell: Shell) -> None:
    """A run failing on a credentials block that does not exist: `--watch` ends as the page
    says, and the page's logs command, given the id `--watch` printed, shows the error."""
    output = shell.run(
        "prefect deployment run 'run-batch/run-batch' -p model=anthropic/claude-opus-4-8"
        """ -p 'requests=[{"custom_id": "fr", "prompt": "Capital of France?"}]'"""
        " -p credentials=no-such-block --watch",
        exit_code=1,
    )
    assert FAILED in output, output
    uuid = UUID_LINE.search(output)
    assert uuid, output
    command = LOGS_COMMAND.search(doc_page("deployments"))
    assert command, "the page no longer says how to see a failed run's logs"
    logs = shell.run(f"{command.group('command')} {uuid.group('id')}")
    assert "ConfigurationError" in logs and "no-such-block" in logs, logs


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


def _states(api_url: str, flow_run_id: str) -> list[dict[str, Any]]:
    """The run's state history, oldest first."""
    states = _get(api_url, f"/flow_run_states/?flow_run_id={flow_run_id}")
    return sorted(states, key=lambda state: str(state["timestamp"]))


def _log_messages(api_url: str, flow_run_id: str) -> set[str]:
    logs = _post(
        api_url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 200}
    )
    return {str(log["message"]) for log in logs}


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
