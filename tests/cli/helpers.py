"""Running the command in-process and reading its output without Rich's frames."""

from __future__ import annotations

import re

from click.testing import Result
from typer.testing import CliRunner

from batchwork_prefect.cli import app


def run(*args: str, env: dict[str, str | None] | None = None, input: str | None = None) -> Result:
    """Invoke `batchwork-prefect ARGS...` in this process."""
    return CliRunner().invoke(app, list(args), env=env, input=input, prog_name="batchwork-prefect")


def flat(text: str) -> str:
    """`text` without Rich's box frame, its words joined by single spaces."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())
