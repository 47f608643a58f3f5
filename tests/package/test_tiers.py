"""The README's test tiers: the fast tier needs no Prefect server, and the suite collects
without pytest-xdist."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _collected(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_each_tier_is_a_mark_the_readme_names() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "-m fast" in readme and "-p no:xdist" in readme
    for tier in ("fast", "server", "bench", "crash"):
        assert f"`{tier}`" in readme


def test_the_fast_tier_holds_no_test_that_starts_a_prefect_server() -> None:
    fast = _collected("-m", "fast", "-p", "no:xdist")
    assert fast, "no fast tests collected"
    slow_folders = ("orchestration", "cli", "bench", "crash", "deployments", "production")
    assert not [test for test in fast if test.split("/")[1] in slow_folders]
    assert {test.split("/")[1] for test in fast} >= {"core", "models", "providers", "emulator"}
