"""The walkthrough's shell, whose background commands are stopped after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.deployments.processes import Shell


@pytest.fixture
def shell_factory(tmp_path: Path) -> Iterator[Callable[[Path, dict[str, str]], Shell]]:
    """Makes the walkthrough's shell; stops its background commands at the end."""
    shells: list[Shell] = []

    def make(cwd: Path, env: dict[str, str]) -> Shell:
        log_dir = tmp_path / "logs"
        log_dir.mkdir(exist_ok=True)
        shell = Shell(cwd=cwd, env=env, log_dir=log_dir)
        shells.append(shell)
        return shell

    yield make
    for shell in shells:
        shell.stop()
