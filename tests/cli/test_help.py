"""Every command's `--help` in an 80-column terminal: no line longer, no option name or word
cut (run as a process: Typer's test runner forces its own width)."""

from __future__ import annotations

import os
import re
import subprocess
from typing import Any

import pytest
import typer.core
import typer.main

from batchwork_prefect.cli import app
from tests.cli.helpers import COMMAND


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """`command` and every command under it, each with the words that invoke it."""
    found = [(path, command)]
    if isinstance(command, typer.core.TyperGroup):
        for name, sub in command.commands.items():
            found += _commands(sub, (*path, name))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def test_every_command_is_checked() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert names == {
        "",
        "demo",
        "emulator",
        "save-credentials",
        "install-automations",
        "resolve-submission",
        "poller",
        "poller status",
    }


@pytest.mark.parametrize(
    ("path", "command"),
    COMMANDS,
    ids=[" ".join(path) or "batchwork-prefect" for path, _ in COMMANDS],
)
def test_help_reads_whole_at_80_columns(path: tuple[str, ...], command: Any) -> None:
    completed = subprocess.run(
        [*COMMAND, *path, "--help"],
        env={**os.environ, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    help_text = completed.stdout
    lines = help_text.splitlines()
    assert [line for line in lines if len(line) > 80] == []
    assert [line for line in lines if re.search(r"\w-$", line)] == []  # a word cut at a hyphen
    assert "…" not in help_text  # a cell cut short
    names = [name for param in command.params for name in (*param.opts, *param.secondary_opts)]
    for name in (name for name in names if name.startswith("-")):
        assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", help_text), name
    if isinstance(command, typer.core.TyperGroup):
        listed = [" ".join(line.split()) for line in lines]
        for name, sub in command.commands.items():
            assert f"{name} {sub.get_short_help_str(limit=1000)}" in listed
