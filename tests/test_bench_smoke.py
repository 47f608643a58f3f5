"""A tiny run of the benchmark suite (`python -m bench`): every case runs and is reported.

Timings are reported by the bench, never asserted here. A peer that is not installed (the CI
installs only `.[test]`, without `batchwork-ai`) must show up as "not installed", not vanish.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = (
    "## Machine",
    "## Goals",
    "## 1. Read an ended batch",
    "## 2. Submit a batch",
    "## 3. Orchestration overhead",
    "## 4. Polling cost",
)
GOALS = (
    "Read vs SDK",
    "Read vs raw floor",
    "Streaming memory is flat",
    "collect() memory",
    "Submit vs SDK",
    "Submit vs raw floor",
    "Submit memory",
    "Orchestration overhead",
    "Polling cost",
)
NUMBER = r"\d[\d,]*(?:\.\d+)?"

pytestmark = pytest.mark.timeout(180)  # the whole run happens in the first test's fixture


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    output = tmp_path_factory.mktemp("bench") / "BENCHMARKS.md"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--size", "200", "--repeats", "1", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return output.read_text(encoding="utf-8")


def _rows(report: str, section: str) -> list[dict[str, str]]:
    """The data rows of the first table after `section`, keyed by column header."""
    body = report.split(section, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in body.splitlines() if line.startswith("| ")]
    header, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_report_has_every_section_and_the_command(report: str) -> None:
    for section in SECTIONS:
        assert section in report
    assert "`python -m bench --size 200 --repeats 1 --output " in report
    for package in ("anthropic", "batchwork-ai", "httpx", "orjson", "pydantic", "prefect"):
        assert re.search(rf"^\| {re.escape(package)} \| \S", report, re.MULTILINE)
    assert "failed" not in report


def test_every_goal_has_a_verdict(report: str) -> None:
    verdicts = {row["Goal"]: row["Verdict"] for row in _rows(report, "## Goals")}
    assert set(verdicts) == set(GOALS)
    for goal, verdict in verdicts.items():
        assert verdict in ("**PASS**", "**MISS**"), (goal, verdict)


@pytest.mark.parametrize(
    ("section", "peers"),
    [
        ("## 1. Read an ended batch", ("this project", "anthropic SDK", "batchwork-ai", "raw")),
        ("## 2. Submit a batch", ("this project", "anthropic SDK", "batchwork-ai", "raw")),
    ],
)
def test_peer_tables_have_numbers_or_say_not_installed(
    report: str, section: str, peers: tuple[str, ...]
) -> None:
    rows = _rows(report, section)
    for peer in peers:
        matching = [row for row in rows if peer in row["Case"]]
        assert matching, peer
        for row in matching:
            if peer == "batchwork-ai" and importlib.util.find_spec("batchwork") is None:
                assert row["Median s"] == "not installed"
                continue
            assert re.fullmatch(NUMBER, row["Median s"]) and float(row["Median s"]) > 0, row
            for column in ("Peak RSS MB", "Peak - baseline MB"):
                assert re.fullmatch(r"-?" + NUMBER, row[column]), row
            assert any(re.fullmatch(NUMBER, row[key]) for key in row if key.endswith("/s")), row
    labels = " ".join(row["Case"] for row in rows)
    if section.startswith("## 1."):
        assert "`job.collect()`" in labels
        assert labels.count("`job.results()`") == 2  # the full size and a fifth of it
    else:
        assert "POST of the already-encoded body" in labels


def test_orchestration_and_polling_tables_have_numbers(report: str) -> None:
    orchestration = _rows(report, "## 3. Orchestration overhead")
    assert len(orchestration) == 4
    for row in orchestration:
        assert re.fullmatch(NUMBER, row["Median s per batch"].strip("*")), row
    polling = _rows(report, "## 4. Polling cost")
    assert len(polling) == 2
    for row in polling:
        assert re.fullmatch(NUMBER, row["Retrieve calls"]) and int(row["Retrieve calls"]) > 0, row
        assert re.fullmatch(NUMBER, row["Late (s)"]), row
