"""`batchwork-prefect` itself: --version, --help, and the emulator serving the API."""

from __future__ import annotations

import subprocess
from importlib.metadata import version

import httpx

from tests.cli.helpers import COMMAND, HEADERS, ONE_REQUEST, emulator_process, run


def test_version_prints_the_installed_version() -> None:
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout == f"batchwork-prefect {version('batchwork-prefect')}\n"


def test_version_and_help_do_not_import_prefect() -> None:
    probe = (
        "import sys\n"
        "from batchwork_prefect.cli import main\n"
        "for args in (['--version'], ['--help'], ['emulator', '--help']):\n"
        "    sys.argv = ['batchwork-prefect', *args]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, (args, exit.code)\n"
        "print('imported:', sorted(m for m in sys.modules if m.split('.')[0] == 'prefect'))\n"
    )
    completed = subprocess.run(
        [COMMAND[0], "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert completed.stdout.splitlines()[-1] == "imported: []"


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for command in (
        "demo",
        "emulator",
        "save-credentials",
        "install-automations",
        "resolve-submission",
    ):
        assert command in result.stdout


def test_emulator_command_serves_the_api() -> None:
    with emulator_process("--processing-seconds", "0") as (base_url, _):
        created = httpx.post(f"{base_url}/v1/messages/batches", json=ONE_REQUEST, headers=HEADERS)
    assert created.status_code == 200
    assert created.json()["processing_status"] == "in_progress"
    assert created.headers["request-id"].startswith("req_")


def test_install_automations_defaults_are_the_library_s() -> None:
    """The CLI spells the defaults out (importing them would load Prefect for --help)."""
    import typer.main

    from batchwork_prefect.cli import app
    from batchwork_prefect.orchestration import automations

    command = typer.main.get_command(app).commands["install-automations"]  # type: ignore[attr-defined]
    defaults = {param.name: param.default for param in command.params}
    assert defaults["tag"] == automations.DEFAULT_TAG
    assert defaults["zombie_after"] == automations.DEFAULT_ZOMBIE_AFTER.total_seconds()
    assert defaults["resume_within"] == automations.DEFAULT_RESUME_WITHIN.total_seconds()
    assert defaults["resume_after"] == automations.DEFAULT_RESUME_AFTER.total_seconds()
