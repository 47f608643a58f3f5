"""Running the command in-process or as a process, and reading its output without Rich's frames."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from typer.testing import CliRunner, Result

from batchwork_prefect.cli import app

COMMAND = [sys.executable, "-m", "batchwork_prefect.cli"]
"""`batchwork-prefect` as a process of this interpreter."""

HEADERS = {"anthropic-version": "2023-06-01", "x-api-key": "any"}
ONE_REQUEST = {
    "requests": [
        {
            "custom_id": "a",
            "params": {
                "model": "claude-x",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
            },
        }
    ]
}


def run(
    *args: str, env: Mapping[str, str | None] | None = None, input: str | None = None
) -> Result:
    """Invoke `batchwork-prefect ARGS...` in this process."""
    return CliRunner().invoke(app, list(args), env=env, input=input, prog_name="batchwork-prefect")


def flat(text: str) -> str:
    """`text` without Rich's box frame, its words joined by single spaces."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@contextmanager
def emulator_process(*args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """`batchwork-prefect emulator --port 0 ARGS...` running; yields its base URL and process."""
    process = subprocess.Popen(
        [*COMMAND, "emulator", "--port", "0", *args], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert " on http://" in banner, banner
        yield banner.split(" on ")[1].split()[0], process
    finally:
        process.terminate()
        process.wait(timeout=30)
