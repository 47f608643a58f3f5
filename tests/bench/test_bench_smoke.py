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

from bench.report import goals, goals_table
from bench.suite import (
    Measured,
    Options,
    OrchestrationResults,
    PollingResults,
    ReadResults,
    SubmitResults,
    SuiteResults,
)

ROOT = Path(__file__).resolve().parents[2]
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
    "Polling calls",
    "Polling lateness",
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


def test_every_goal_has_a_verdict_that_follows_from_its_value_and_limit(report: str) -> None:
    rows = {row["Goal"]: row for row in _rows(report, "## Goals")}
    assert set(rows) == set(GOALS)
    for goal, row in rows.items():
        assert row["Verdict"] in ("**PASS**", "**MISS**"), (goal, row)
        value = re.fullmatch(rf"(-?{NUMBER})(x| s| MB)", row["Measured"])
        limit = re.fullmatch(rf"(>=|<=|<) ({NUMBER})(x| s| MB)", row["Limit"])
        assert value and limit and value[2] == limit[3], (goal, row)
        shown, bound = float(value[1].replace(",", "")), float(limit[2].replace(",", ""))
        if shown != bound:  # equal once rounded: the verdict rests on the unrounded value
            holds = {">=": shown >= bound, "<=": shown <= bound, "<": shown < bound}[limit[1]]
            assert row["Verdict"] == ("**PASS**" if holds else "**MISS**"), (goal, row)


def _measured(label: str, seconds: float, peak: int = 0, baseline: int = 0) -> Measured:
    return Measured(label, 100, seconds=[seconds], peaks=[peak], baselines=[baseline])


def _results(*, sdk_read: float, raw_read: float, missing: str = "") -> SuiteResults:
    """Hand-made measurements: this project reads in 1 s; the other rows as given."""
    mb = 1_000_000
    read = ReadResults(
        size=100,
        small_size=20,
        jsonl_bytes=100 * mb,
        small_jsonl_bytes=20 * mb,
        readers={
            "project": _measured("project", 1.0, peak=90 * mb, baseline=80 * mb),
            "sdk": _measured("sdk", sdk_read),
            "raw": Measured("raw: floor", 100, note=missing)
            if missing
            else _measured("raw", raw_read),
        },
        small=_measured("small", 0.2, peak=88 * mb, baseline=80 * mb),
        collect=_measured("collect", 1.0, peak=230 * mb, baseline=80 * mb),
    )
    submit = SubmitResults(
        size=100,
        submitters={
            "project": _measured("project", 2.0, peak=150 * mb, baseline=100 * mb),
            "sdk": _measured("sdk", 4.0),
            "raw": _measured("raw", 1.0, peak=140 * mb, baseline=100 * mb),
            "post-only": _measured("post-only", 0.5),
        },
    )
    return SuiteResults(
        options=Options(size=100, repeats=1),
        read=read,
        submit=submit,
        orchestration=OrchestrationResults(requests=10, flow=[3.0], core=[0.5]),
        polling=PollingResults(3600.0, adaptive=[(50, 100.0), (60, 400.0)], fixed=[(240, 0.0)]),
        seconds=60.0,
    )


def test_goals_are_computed_from_the_measurements() -> None:
    found = {goal.name: goal for goal in goals(_results(sdk_read=9.0, raw_read=0.5))}
    assert list(found) == list(GOALS)
    expected = {
        "Read vs SDK": (9.0, 8.0, True),  # SDK 9 s / this project's 1 s
        "Read vs raw floor": (2.0, 1.5, False),  # 1 s / 0.5 s
        "Streaming memory is flat": (2.0, 4.0, True),  # 90 - 88 MB; 5% of the extra 80 MB
        "collect() memory": (1.5, 2.0, True),  # 150 MB above baseline / 100 MB of JSONL
        "Submit vs SDK": (2.0, 2.5, False),
        "Submit vs raw floor": (2.0, 1.3, False),
        "Submit memory": (1.25, 1.0, False),  # 50 MB / 40 MB above baseline
        "Orchestration overhead": (2.5, 2.0, False),  # 3 s flow - 0.5 s core
        "Polling calls": (0.25, 0.25, True),  # worst adaptive run, 60 calls / 240
        "Polling lateness": (400.0, 360.0, False),  # worst run; 10% of the hour
    }
    for name, (value, limit, passed) in expected.items():
        goal = found[name]
        assert goal.value == pytest.approx(value), name
        assert goal.limit == pytest.approx(limit), name
        assert goal.passed is passed, name

    faster = {goal.name: goal for goal in goals(_results(sdk_read=7.0, raw_read=0.8))}
    assert faster["Read vs SDK"].passed is False
    assert faster["Read vs raw floor"].passed is True


def test_a_goal_over_a_missing_peer_is_not_judged() -> None:
    results = _results(sdk_read=9.0, raw_read=0.5, missing="not installed")
    found = {goal.name: goal for goal in goals(results)}
    assert found["Read vs raw floor"].value is None
    assert found["Read vs raw floor"].verdict == "n/a"
    assert "not installed" in found["Read vs raw floor"].detail
    assert found["Read vs SDK"].passed is True
    row = next(
        line for line in goals_table(list(found.values())).splitlines() if "Read vs raw" in line
    )
    assert "| not measured |" in row and "**n/a**" in row


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
