"""The typed-results section (`python -m bench --only typed`): a tiny run proves every row
runs and is reported; its goals are computed from paired repeats. No timing is asserted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from batchwork_prefect.outputs import OutputType
from bench.report import TYPED_GOALS, goals, render
from bench.suite import Measured, Options, not_run
from bench.typed import ROWS, SCHEMA_PATH, answer_text, requests
from bench.typed_model import TicketExtraction
from bench.typed_suite import TypedResults

ROOT = Path(__file__).resolve().parents[2]
TYPED = "## 11. Typed results"
NUMBER = r"\d[\d,]*(?:\.\d+)?"


def _rows(report: str, section: str) -> list[dict[str, str]]:
    """The data rows of the first table after `section`, keyed by column header."""
    body = report.split(section, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in body.splitlines() if line.startswith("|")]
    del lines[1]
    header, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    output = tmp_path_factory.mktemp("bench") / "BENCHMARKS.md"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "typed", "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return output.read_text(encoding="utf-8")


@pytest.mark.timeout(180)
def test_every_typed_row_is_measured_and_paired(report: str) -> None:
    rows = _rows(report, TYPED)
    assert [row["Read"] for row in rows] == [case.label for case in ROWS]
    for row in rows:
        assert row["Results"] == "200", row
        for column in ("Fresh process, median s", "In process, median s", "Of which import s"):
            assert re.fullmatch(NUMBER, row[column]), (column, row)
        paired = ", plain:" not in row["Read"] or row["Read"].startswith("reference")
        ratio = re.fullmatch(rf"\*\*({NUMBER})x\*\*", row["Over plain (paired median)"])
        assert (ratio is not None) is paired, row
        assert (row["Over plain (paired median)"] == "-") is not paired, row
    section = " ".join(report.split(TYPED, 1)[1].split())
    assert "(186 succeeded, 10 errored, 4 expired)" in section
    assert "over 1 batch(es)" in section


@pytest.mark.timeout(180)
def test_only_typed_judges_the_typed_goals_alone(report: str) -> None:
    found = {row["Goal"]: row for row in _rows(report, "## Goals")}
    for name in TYPED_GOALS.values():
        assert found[name]["Verdict"] in ("**PASS**", "**MISS**"), found[name]
        assert found[name]["Limit"] == "<= 1.30x"
    others = [row for name, row in found.items() if name not in TYPED_GOALS.values()]
    assert others and all("not run (--only typed)" in row["What is measured"] for row in others)
    assert "failed" not in report


def _measured(label: str, fresh: list[float], seconds: list[float]) -> Measured:
    imports = [one - other for one, other in zip(fresh, seconds, strict=True)]
    peaks = [0] * len(fresh)
    return Measured(
        label, 100, seconds=seconds, fresh=fresh, imports=imports, peaks=peaks, baselines=peaks
    )


def test_the_goals_are_the_median_of_paired_ratios() -> None:
    plain = _measured("plain", [1.0, 2.0, 1.0], [0.5, 1.0, 0.5])
    results = TypedResults(
        100,
        rows={
            "anthropic/plain": plain,
            # pairs 1.2, 1.0, 1.5 -> 1.2 (the medians' ratio would be 1.5 / 1.0)
            "anthropic/model": _measured("model", [1.2, 2.0, 1.5], [0.6, 1.0, 1.0]),
            # pairs 1.4, 1.35, 1.4 -> 1.4: a miss
            "anthropic/schema": _measured("schema", [1.4, 2.7, 1.4], [0.7, 1.4, 0.7]),
            "openai/plain": _measured("plain", [1.0], [0.5]),
            "openai/model": Measured("model", 100, note="failed: boom"),
        },
    )
    options = Options(size=100, repeats=3, only="typed")
    suite = not_run(options, None, 1.0, typed=results)
    found = {goal.name: goal for goal in goals(suite)}
    model = found[TYPED_GOALS["anthropic/model"]]
    assert model.value == pytest.approx(1.2) and model.passed is True
    assert "in process: 1.20x; 3 pair(s)" in model.detail  # pairs 1.2, 1.0, 2.0
    schema = found[TYPED_GOALS["anthropic/schema"]]
    assert schema.value == pytest.approx(1.4) and schema.passed is False
    openai = found[TYPED_GOALS["openai/model"]]
    assert openai.value is None and "failed: boom" in openai.detail
    text = render(suite, "python -m bench --only typed")
    assert "| **1.20x** |" in text and "failed: boom" in text


def test_the_schema_file_is_the_models_schema_and_the_answers_validate() -> None:
    schema = orjson.loads(SCHEMA_PATH.read_bytes())
    assert schema == TicketExtraction.model_json_schema()
    by_model, by_schema = OutputType.of(TicketExtraction), OutputType.of(schema)
    assert by_model is not None and by_schema is not None
    for request in requests(50):
        text = answer_text({"messages": [{"role": "user", "content": request["prompt"]}]})
        parsed = by_model.parse(text)
        assert isinstance(parsed, TicketExtraction) and 1 <= len(parsed.action_items) <= 4
        assert 140 <= len(parsed.summary) <= 320  # 160-320, cut at a word
        assert by_schema.parse(text) == orjson.loads(text)
