"""The sync vs async flow rows of the orchestration section (`python -m bench --only async`).

Timings are reported by the bench, never asserted here: the hand-made rows check the
arithmetic, the smoke run that every cell is filled.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench.async_flow import AsyncFlowResults, async_flow_table
from bench.report import render
from bench.suite import Options, not_run, run_async_flow_section

ROOT = Path(__file__).resolve().parents[2]
SUBSECTION = "### Sync flow vs async flow"
NUMBER = r"\d[\d,]*\.\d+"


def _rows(report: str) -> list[dict[str, str]]:
    """The rows of the subsection's table, keyed by column header."""
    body = report.split(SUBSECTION, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in body.splitlines() if line.startswith("|")]
    del lines[1]  # the |---| line
    header, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_the_ratio_is_the_median_of_the_paired_ratios() -> None:
    # pairs 4/5 = 0.8, 5/4 = 1.25, 3/6 = 0.5: the median ratio 0.8, not 4/5 from the medians
    results = AsyncFlowResults(
        10,
        fresh={"sync": [5.0, 4.0, 6.0], "async": [4.0, 5.0, 3.0]},
        in_process={"sync": [1.0, 1.0, 1.0], "async": [0.25, 0.5, 0.3]},
    )
    text = render(
        not_run(Options(size=100, repeats=3, only="async"), None, 1.0, async_flow=results), "x"
    )
    rows = _rows(text)
    assert [row["Run"] for row in rows[:2]] == [
        "sync flow calling `run_batch(...)`",
        "async flow awaiting `arun_batch(...)`",
    ]
    assert rows[0]["Fresh process, median s"] == "5.000"
    assert rows[2]["Fresh process, median s"] == "**0.80x**"
    assert rows[2]["In process, median s"] == "**0.30x**"
    assert "not run (--only async)" in text.split("## 6. Polling cost", 1)[1]


def test_a_whole_smoke_run_leaves_the_rows_to_only_async() -> None:
    left = run_async_flow_section(Options(size=100, repeats=1, smoke=True))
    assert not left.ok and left.note == "not run in --smoke (--only async)"
    assert "Not measured: not run in --smoke (--only async)" in async_flow_table(left)


@pytest.mark.timeout(300)
def test_only_async_smoke_fills_every_cell(tmp_path: Path) -> None:
    output = tmp_path / "BENCHMARKS.md"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--only", "async", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=290,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    rows = _rows(output.read_text(encoding="utf-8"))
    assert len(rows) == 3  # the two kinds and their ratio; no warm-up child in a smoke run
    for row in rows[:2]:
        for column in ("Fresh process, median s", "In process, median s"):
            assert re.fullmatch(NUMBER, row[column]), (column, row)
    assert re.fullmatch(r"\*\*" + NUMBER + r"x\*\*", rows[2]["Fresh process, median s"]), rows[2]
