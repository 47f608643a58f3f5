"""The harness at the root (harness/): listed in docs/architecture.md module by module, every
name it exports resolves, and importing it or the bench's parent loads no Prefect."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import harness
from tests.package.test_architecture_doc import ENTRY

ROOT = Path(__file__).resolve().parents[2]


def test_architecture_lists_every_harness_module_and_no_other() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"^```text\nharness/\n(.*?)^```", text, re.S | re.M)
    assert block, "docs/architecture.md has no harness/ tree"
    named = {
        entry["name"]
        for line in block.group(1).splitlines()
        if (entry := ENTRY.match(line.removeprefix("  ")))
    }
    assert named == {path.name for path in (ROOT / "harness").glob("*.py")}


def test_every_exported_name_resolves() -> None:
    for name in harness.__all__:
        assert getattr(harness, name) is not None, name


def test_the_bench_parent_and_the_process_helpers_load_no_prefect() -> None:
    code = (
        "import sys, harness, harness.processes, harness.server, bench.suite, bench.release\n"
        "assert 'prefect' not in sys.modules, sorted(m for m in sys.modules if 'prefect' in m)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
