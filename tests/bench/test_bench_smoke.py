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

from bench.gemini_suite import GeminiResults
from bench.imports import CORE, FLOOR, STEPS, ImportResults, group_importtime
from bench.readings import overlap, union_seconds
from bench.release import ModeRun, PollerWindow, ReleaseResults, judge_polls
from bench.report import _commit, goals, goals_table, render
from bench.rounds import RoundsResults
from bench.suite import (
    LoadResults,
    Measured,
    OpenAIResults,
    Options,
    OrchestrationResults,
    PollingResults,
    ReadResults,
    SubmitResults,
    SuiteResults,
    TogetherResults,
    XAIResults,
    not_run,
)

ROOT = Path(__file__).resolve().parents[2]
READ, LOAD, SUBMIT, IMPORT = (
    "## 1. Read an ended batch",
    "## 2. Load persisted results",
    "## 3. Submit a batch",
    "## 4. Import",
)
OPENAI_READ, OPENAI_SUBMIT = "## 7. OpenAI: read an ended batch", "## 8. OpenAI: submit a batch"
RELEASE = "## 9. Release mode"
ROUNDS = "## 10. Retry rounds"
TYPED = "## 11. Typed results"
SECTIONS = (
    "## Machine",
    "## Goals",
    READ,
    LOAD,
    SUBMIT,
    IMPORT,
    "## 5. Orchestration overhead",
    "## 6. Polling cost",
    OPENAI_READ,
    OPENAI_SUBMIT,
    RELEASE,
    ROUNDS,
    TYPED,
    "## 12. Together",
    "## 13. xAI",
    "## 14. Gemini",
    "## 15. Mistral",
)
FRESH, IN_PROCESS, STEP_BY_STEP = "### Fresh process", "### In process", "### Step by step"
GOALS = (
    "Read vs SDK",
    "Read vs raw floor",
    "Streaming memory is flat",
    "collect() memory",
    "Load persisted results vs raw floor",
    "Submit vs SDK",
    "Submit vs raw floor",
    "Submit memory",
    "Core import time",
    "Core import vs httpx + orjson",
    "Orchestration overhead",
    "Retry round overhead",
    "Polling calls",
    "Polling lateness",
    "OpenAI: Read vs SDK",
    "OpenAI: Read vs raw floor",
    "OpenAI: Submit vs SDK",
    "OpenAI: Submit vs raw floor",
    "OpenAI: Submit memory",
    "Release: worker time per batch",
    "Release: poller keeps 1,000 schedules",
    "Release: poller CPU",
    "Release: end noticed",
    "Typed read vs plain: Anthropic, model",
    "Typed read vs plain: Anthropic, JSON schema",
    "Typed read vs plain: OpenAI, model",
    "Together: Read vs raw floor",
    "xAI: Read vs raw floor",
    "Gemini: Read vs raw floor",
    "Mistral: Read vs raw floor",
)
OPENAI_GOALS = [goal for goal in GOALS if goal.startswith("OpenAI: ")]
RELEASE_GOALS = [goal for goal in GOALS if goal.startswith("Release: ")]
NOT_IN_SMOKE = "not run in --smoke"
NUMBER = r"\d[\d,]*(?:\.\d+)?"

pytestmark = pytest.mark.timeout(180)  # the whole run happens in the first test's fixture


@pytest.fixture(scope="session")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    output = tmp_path_factory.mktemp("bench") / "BENCHMARKS.md"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return output.read_text(encoding="utf-8")


def _rows(report: str, section: str, subsection: str = "") -> list[dict[str, str]]:
    """The data rows of the first table after `section` (and its `subsection`), keyed by
    column header."""
    body = report.split(section, 1)[1].split("\n## ", 1)[0]
    if subsection:
        body = body.split(subsection, 1)[1]
    lines = []
    for line in body.splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break
    del lines[1]  # the |---| line
    header, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_report_has_every_section_and_the_command(report: str) -> None:
    for section in SECTIONS:
        assert section in report
    assert "`python -m bench --smoke --output " in report
    assert "A `--smoke` run: a functional check, not a measurement." in report
    packages = ("anthropic", "openai", "batchwork-ai", "httpx", "orjson", "pydantic", "prefect")
    for package in packages:
        assert re.search(rf"^\| {re.escape(package)} \| \S", report, re.MULTILINE)
    assert "failed" not in report
    # only the release section (a real Prefect server; --smoke leaves it out) is not measured
    for line in report.lower().splitlines():
        if "not measured" in line:
            assert NOT_IN_SMOKE in line, line
    commit = r"^\| Commit \| [0-9a-f]{7,} (\(clean work tree\)|plus uncommitted changes)"
    assert re.search(commit, report, re.MULTILINE)


def test_every_goal_has_a_verdict_that_follows_from_its_value_and_limit(report: str) -> None:
    rows = {row["Goal"]: row for row in _rows(report, "## Goals")}
    assert set(rows) == set(GOALS)
    for goal, row in rows.items():
        if goal in RELEASE_GOALS:
            assert row["Verdict"] == "**n/a**" and NOT_IN_SMOKE in row["What is measured"]
            continue
        assert row["Verdict"] in ("**PASS**", "**MISS**"), (goal, row)
        value = re.fullmatch(rf"(-?{NUMBER})(x| s| MB|%)", row["Measured"])
        limit = re.fullmatch(rf"(>=|<=|<) ({NUMBER})(x| s| MB|%)", row["Limit"])
        assert value and limit and value[2] == limit[3], (goal, row)
        shown, bound = float(value[1].replace(",", "")), float(limit[2].replace(",", ""))
        if shown != bound:  # equal once rounded: the verdict rests on the unrounded value
            holds = {">=": shown >= bound, "<=": shown <= bound, "<": shown < bound}[limit[1]]
            assert row["Verdict"] == ("**PASS**" if holds else "**MISS**"), (goal, row)


def _measured(
    label: str, seconds: float, peak: int = 0, baseline: int = 0, fresh: float | None = None
) -> Measured:
    """A row of one run: `seconds` in process; `fresh` (default: `seconds` + 0.5 s of import)."""
    fresh = seconds + 0.5 if fresh is None else fresh
    return Measured(
        label,
        100,
        seconds=[seconds],
        peaks=[peak],
        baselines=[baseline],
        fresh=[fresh],
        imports=[fresh - seconds],
    )


def _results(*, sdk_read: float, raw_read: float, missing: str = "") -> SuiteResults:
    """Hand-made measurements: this project reads in 1 s in process, 1.5 s in a fresh
    process; the other rows as given (`sdk_read`, `raw_read`: fresh-process seconds)."""
    mb = 1_000_000
    read = ReadResults(
        size=100,
        small_size=20,
        jsonl_bytes=100 * mb,
        small_jsonl_bytes=20 * mb,
        readers={
            "project": _measured("project", 1.0, peak=90 * mb, baseline=80 * mb),
            "sdk": _measured("sdk", sdk_read - 2.0, fresh=sdk_read),
            "raw": Measured("raw: floor", 100, note=missing)
            if missing
            else _measured("raw", raw_read - 0.2, fresh=raw_read),
        },
        small=_measured("small", 0.2, peak=88 * mb, baseline=80 * mb),
        collect=_measured("collect", 1.0, peak=230 * mb, baseline=80 * mb),
    )
    load = LoadResults(
        size=100,
        record_bytes=150 * mb,
        loaders={
            "project": _measured("project", 3.0, fresh=5.0),
            "raw": _measured("raw", 1.5, fresh=1.6),
        },
    )
    submit = SubmitResults(
        size=100,
        submitters={
            "project": _measured("project", 2.0, peak=150 * mb, baseline=100 * mb, fresh=2.5),
            "sdk": _measured("sdk", 4.0, fresh=6.0),
            "raw": _measured("raw", 1.0, peak=140 * mb, baseline=100 * mb, fresh=2.0),
            "post-only": _measured("post-only", 0.5),
        },
    )
    imports = ImportResults(seconds={CORE: [0.4, 0.35, 0.5], FLOOR: [0.15, 0.2, 0.1]})
    return SuiteResults(
        options=Options(size=100, repeats=1),
        read=read,
        load=load,
        submit=submit,
        openai=_openai_results(),
        imports=imports,
        orchestration=OrchestrationResults(requests=10, flow=[3.0], core=[0.5]),
        polling=PollingResults(3600.0, adaptive=[(50, 100.0), (60, 400.0)], fixed=[(240, 0.0)]),
        seconds=60.0,
        release=_release_results(),
        rounds=_rounds_results(),
        together=TogetherResults(100, _read_rows(1.0, 0.8)),
        xai=XAIResults(100, _read_rows(1.0, 1.0)),
        gemini=GeminiResults(100, _read_rows(1.2, 1.0), {}),
        mistral={"size": 100, "rows": {"project": _measured("project", 0.5)}, "note": ""},
    )


def _read_rows(project: float, raw: float) -> dict[str, Measured]:
    """A provider's read rows: this project's and the raw floor's fresh-process seconds."""
    return {
        "project": _measured("project", project / 2, fresh=project),
        "raw": _measured("raw", raw / 2, fresh=raw),
    }


def _rounds_results() -> RoundsResults:
    """Hand-made retry-round rows: fresh processes take 9 s for one round and 9.8 s for two;
    in process 2 s, 2.3 s, and the core 0.9 s."""
    return RoundsResults(
        100,
        fresh={"one": [9.0], "two": [9.8], "core": [1.5]},
        in_process={"one": [2.0], "two": [2.3], "core": [0.9]},
        retried=3,
    )


def _release_results() -> ReleaseResults:
    """Hand-made release rows: a 600 s batch; in process the run holds a process for 650 s,
    released for 40 s (6 s of them while the batch runs) and notices the end 70 s late; the
    poller makes 99 of 100 polls on time, using 15 s of CPU over 300 s."""
    return ReleaseResults(
        600.0,
        runs={
            "in_process": ModeRun(
                "in_process",
                processes=1,
                process_seconds=650.0,
                held_while_running=600.0,
                cpu_seconds=6.0,
                batch_seconds=600.0,
                noticed_seconds=20.0,
            ),
            "release": ModeRun(
                "release",
                processes=2,
                process_seconds=40.0,
                held_while_running=6.0,
                cpu_seconds=12.0,
                batch_seconds=600.0,
                noticed_seconds=70.0,
            ),
        },
        poller=PollerWindow(1000, seconds=300.0, polls=100, on_time=99, missed=1, cpu_seconds=15.0),
    )


def _openai_results() -> OpenAIResults:
    """Hand-made OpenAI rows: this project reads in 1 s in a fresh process, the SDK in 5 s,
    the raw floor in 0.8 s; submits in 2 s, the SDK in 5 s, the raw floor in 1.9 s."""
    mb = 1_000_000
    return OpenAIResults(
        size=100,
        readers={
            "project": _measured("project", 0.5, fresh=1.0),
            "sdk": _measured("sdk", 3.0, fresh=5.0),
            "raw": _measured("raw", 0.6, fresh=0.8),
        },
        submitters={
            "project": _measured("project", 1.5, peak=130 * mb, baseline=100 * mb, fresh=2.0),
            "sdk": _measured("sdk", 4.0, fresh=5.0),
            "raw": _measured("raw", 1.4, peak=140 * mb, baseline=100 * mb, fresh=1.9),
            "upload-only": _measured("upload-only", 0.5),
        },
        outcomes={"succeeded": 93, "errored": 5, "expired": 2, "tool_calls": 9},
    )


def test_goals_are_computed_from_the_measurements() -> None:
    found = {goal.name: goal for goal in goals(_results(sdk_read=30.0, raw_read=1.25))}
    assert list(found) == list(GOALS)
    expected = {
        "Read vs SDK": (20.0, 15.0, True),  # SDK 30 s / this project's 1.5 s, fresh processes
        "Read vs raw floor": (1.2, 1.0, False),  # 1.5 s / 1.25 s
        "Streaming memory is flat": (2.0, 4.0, True),  # 90 - 88 MB; 5% of the extra 80 MB
        "collect() memory": (1.5, 1.5, True),  # 150 MB above baseline / 100 MB of JSONL
        "Load persisted results vs raw floor": (2.0, 1.5, False),  # 3 s / 1.5 s in process
        "Submit vs SDK": (2.4, 2.0, True),  # 6 s / 2.5 s, fresh processes
        "Submit vs raw floor": (1.25, 1.0, False),  # 2.5 s / 2 s
        "Submit memory": (1.25, 1.0, False),  # 50 MB / 40 MB above baseline
        "Core import time": (0.4, 0.3, False),  # the median of 0.4, 0.35, 0.5
        "Core import vs httpx + orjson": (0.4 / 0.15, 3.0, True),
        "Orchestration overhead": (2.5, 0.3, False),  # 3 s flow - 0.5 s core
        "Retry round overhead": (0.8, 1.1, True),  # 9.8 - 9 s fresh; 2 - 0.9 s in process
        "Polling calls": (0.25, 0.25, True),  # worst adaptive run, 60 calls / 240
        "Polling lateness": (400.0, 360.0, False),  # worst run; 10% of the hour
        "OpenAI: Read vs SDK": (5.0, 15.0, False),  # 5 s / 1 s, fresh processes
        "OpenAI: Read vs raw floor": (1.25, 1.0, False),  # 1 s / 0.8 s
        "OpenAI: Submit vs SDK": (2.5, 2.0, True),  # 5 s / 2 s
        "OpenAI: Submit vs raw floor": (2.0 / 1.9, 1.0, False),  # 2 s / 1.9 s
        "OpenAI: Submit memory": (0.75, 1.0, True),  # 30 MB / 40 MB above baseline
        "Release: worker time per batch": (0.01, 0.1, True),  # 6 s of the 600 s batch
        "Release: poller keeps 1,000 schedules": (0.99, 1.0, False),  # 99 of 100 polls
        "Release: poller CPU": (0.05, 0.1, True),  # 15 CPU s / 300 s
        "Release: end noticed": (70.0, 60.0, False),  # 10% of 600 s is below the 60 s floor
        "Together: Read vs raw floor": (1.25, 1.0, False),  # 1 s / 0.8 s, fresh processes
        "xAI: Read vs raw floor": (1.0, 1.0, True),
        "Gemini: Read vs raw floor": (1.2, 1.0, False),
    }
    for name, (value, limit, passed) in expected.items():
        goal = found[name]
        assert goal.value == pytest.approx(value), name
        assert goal.limit == pytest.approx(limit), name
        assert goal.passed is passed, name

    # 2 MB of growth over the 80 extra results, per result
    assert "25,000 bytes per extra result" in found["Streaming memory is flat"].detail
    # the raw floor's own ratio over the SDK: no reader slower than it can reach more
    assert "the raw floor's: 6.25x" in found["OpenAI: Read vs SDK"].detail
    assert (
        "release 40.0 vs in process 650.0 (0.06x)" in found["Release: worker time per batch"].detail
    )

    assert found["Mistral: Read vs raw floor"].verdict == "n/a"  # no raw floor row
    assert "not measured (no samples)" in found["Mistral: Read vs raw floor"].detail

    other = {goal.name: goal for goal in goals(_results(sdk_read=15.0, raw_read=1.5))}
    assert other["Read vs SDK"].passed is False  # 15 / 1.5 = 10x
    assert other["Read vs raw floor"].passed is True  # 1.5 / 1.5


def test_a_goal_over_a_missing_peer_is_not_judged() -> None:
    results = _results(sdk_read=30.0, raw_read=0.5, missing="not installed")
    found = {goal.name: goal for goal in goals(results)}
    assert found["Read vs raw floor"].value is None
    assert found["Read vs raw floor"].verdict == "n/a"
    assert "not installed" in found["Read vs raw floor"].detail
    assert found["Read vs SDK"].passed is True
    row = next(
        line for line in goals_table(list(found.values())).splitlines() if "Read vs raw" in line
    )
    assert "| not measured |" in row and "**n/a**" in row


PEERS = ("this project", "anthropic SDK", "batchwork-ai", "raw")
OPENAI_PEERS = ("this project", "openai SDK", "raw")


@pytest.mark.parametrize(
    ("section", "peers"),
    [
        (READ, PEERS),
        (SUBMIT, PEERS),
        (LOAD, ("this project", "raw")),
        (OPENAI_READ, OPENAI_PEERS),
        (OPENAI_SUBMIT, OPENAI_PEERS),
    ],
)
@pytest.mark.parametrize("subsection", [FRESH, IN_PROCESS])
def test_peer_tables_have_numbers_or_say_not_installed(
    report: str, section: str, peers: tuple[str, ...], subsection: str
) -> None:
    rows = _rows(report, section, subsection)
    columns = ["Median s", "Of which import s"] if subsection == FRESH else ["Median s"]
    columns += ["Peak RSS MB", "Peak - baseline MB"] if subsection == IN_PROCESS else []
    for peer in peers:
        matching = [row for row in rows if peer in row["Case"]]
        assert matching, peer
        for row in matching:
            if peer == "batchwork-ai" and importlib.util.find_spec("batchwork") is None:
                assert row["Median s"] == "not installed"
                continue
            assert re.fullmatch(NUMBER, row["Median s"]) and float(row["Median s"]) > 0, row
            for column in columns:
                assert re.fullmatch(r"-?" + NUMBER, row[column]), (column, row)
            assert any(re.fullmatch(NUMBER, row[key]) for key in row if key.endswith("/s")), row
    labels = " ".join(row["Case"] for row in rows)
    if section == READ:
        assert "`job.collect()`" in labels
        assert labels.count("`job.results()`") == 2  # the full size and a fifth of it
    elif section == SUBMIT:
        assert "POST of the already-encoded body" in labels
    elif section == OPENAI_READ:
        assert len(rows) == len(OPENAI_PEERS)
    elif section == OPENAI_SUBMIT:
        assert "upload and create of an already-encoded file" in labels


def test_the_openai_workload_is_described_with_its_outcomes(report: str) -> None:
    section = report.split(OPENAI_READ, 1)[1].split("\n### ", 1)[0]
    assert "An ended OpenAI batch of 200 results" in section
    for words in ("186 succeeded", "10 errored", "4 expired", "a tool call alone"):
        assert words in " ".join(section.split()), words
    assert re.search(rf"a {NUMBER} MB output file", section)


def test_only_openai_reports_every_other_case_as_not_run() -> None:
    options = Options(size=100, repeats=1, only="openai")
    text = render(not_run(options, _openai_results(), 10.0), "python -m bench --only openai")
    assert "**Only the openai rows ran (`--only openai`)**" in text
    rows = {row["Goal"]: row for row in _rows(text, "## Goals")}
    assert list(rows) == list(GOALS)
    for goal, row in rows.items():
        judged = goal in OPENAI_GOALS
        assert (row["Verdict"] != "**n/a**") is judged, (goal, row)
        assert ("not run (--only openai)" in row["What is measured"]) is not judged, (goal, row)
    for section in (READ, LOAD, SUBMIT):
        assert {row["Median s"] for row in _rows(text, section, FRESH)} == {
            "not run (--only openai)"
        }
    openai_rows = _rows(text, OPENAI_READ, FRESH)
    assert all(re.fullmatch(NUMBER, row["Median s"]) for row in openai_rows), openai_rows


def test_only_release_reports_every_other_case_as_not_run() -> None:
    options = Options(size=100, repeats=1, only="release")
    results = not_run(options, None, 10.0, _release_results())
    text = render(results, "python -m bench --only release")
    rows = {row["Goal"]: row for row in _rows(text, "## Goals")}
    assert list(rows) == list(GOALS)
    for goal, row in rows.items():
        judged = goal in RELEASE_GOALS
        assert (row["Verdict"] != "**n/a**") is judged, (goal, row)
        assert ("not run (--only release)" in row["What is measured"]) is not judged, (goal, row)
    modes = [row["Wait mode"] for row in _rows(text, RELEASE)]
    assert modes == ["`in_process`", "`release`", "**release / in process**"]
    poller = _rows(text, RELEASE, "**One poller over")
    assert poller[0]["On time"] == "99 (99.00%)" and poller[0]["CPU (% of a core)"] == "5.0%"


def test_polls_are_judged_against_the_schedule_they_followed() -> None:
    """A poll is on time within 10% of its scheduled delay; one not made by the window's
    end counts as late once it is more than 10% overdue, and not at all before."""
    scheduled = {
        "batchwork-wait-a": (100.0, 30.0),
        "batchwork-wait-b": (110.0, 30.0),
        "batchwork-wait-c": (290.0, 200.0),
    }
    rows = [  # the poller writes each record's schedule to its own variable
        ("batchwork-poll-a", {"next_poll": 132.0}, 102.0),  # on time: 2 s late of 30
        ("batchwork-poll-a", {"next_poll": 170.0}, 136.0),  # late: 4 s of the 30 s at 102
        ("batchwork-poll-b", {"next_poll": 140.0}, 110.5),  # on time; its next is never made
        ("batchwork-wait-b", {"next_poll": 150.0}, 120.0),  # the run's record: not a poll
        ("batchwork-poll-x", {"next_poll": 1.0}, 105.0),  # not one of the records: ignored
    ]
    window = PollerWindow(3)
    judge_polls(window, scheduled, rows, 100.0, 200.0)
    # a: 2 polls made, then one due at 170 (delay 34) not made by 200: missed
    # b: 1 made, then one due at 140 not made: missed; c: due at 290, after the window
    assert (window.polls, window.on_time, window.missed) == (5, 2, 2)
    assert window.lateness_shares == pytest.approx([2 / 30, 4 / 30, 0.5 / 30])


def test_held_time_is_the_union_of_the_process_lifetimes() -> None:
    intervals = [(0.0, 10.0), (5.0, 12.0), (20.0, 25.0)]
    assert union_seconds(intervals) == pytest.approx(17.0)
    assert overlap(intervals, 8.0, 22.0) == pytest.approx(6.0)
    assert overlap(intervals, 13.0, 19.0) == 0.0


@pytest.mark.parametrize("section", [READ, LOAD])
def test_step_by_step_tables_have_a_number_for_every_step(report: str, section: str) -> None:
    rows = _rows(report, section, STEP_BY_STEP)
    assert len(rows) >= 5
    for row in rows:
        assert re.fullmatch(NUMBER, row["Median s"]), row
        step = row["Step (each a whole pass)"]
        if not step.startswith("for reference"):
            assert re.fullmatch(r"-?" + NUMBER, row["Adds s"]), row
    assert rows[-1]["Step (each a whole pass)"].startswith("for reference")


def test_import_tables(report: str) -> None:
    timed = {row["Fresh process"]: row for row in _rows(report, IMPORT)}
    assert set(timed) == {f"`{CORE}`", f"`{FLOOR}`"}
    for row in timed.values():
        assert re.fullmatch(NUMBER, row["Median s"]) and float(row["Median s"]) > 0, row
    steps = _rows(report, IMPORT, "python -X importtime")
    assert [row["Step of the core import"] for row in steps[:-1]] == list(STEPS)
    assert all(re.fullmatch(NUMBER, row["ms (`-X importtime`)"].strip("*")) for row in steps)


def test_importtime_output_is_grouped_by_the_nearest_named_module() -> None:
    report = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 |         click",
            "import time:        10 |        110 |       httpx._main",
            "import time:        20 |        130 |     httpx",
            "import time:        40 |         40 |       pydantic_core",
            "import time:         5 |         45 |     pydantic",
            "import time:       300 |        300 |       enum",
            "import time:         7 |        307 |     batchwork_prefect.models",
            "import time:         1 |        483 |   batchwork_prefect.core",
            "import time:         2 |        485 | batchwork_prefect",
        ]
    )
    grouped = [round(seconds * 1e6) for _, seconds in group_importtime(report)]
    assert grouped == [110, 20, 45, 307, 3]


def test_the_commit_says_whether_the_work_tree_was_clean(tmp_path: Path) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "file.txt").write_text("one", encoding="utf-8")
    git("add", "file.txt")
    git("-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm", "one")
    assert re.fullmatch(r"[0-9a-f]{7,} \(clean work tree\)", _commit(tmp_path))
    (tmp_path / "file.txt").write_text("two", encoding="utf-8")
    assert re.fullmatch(
        r"[0-9a-f]{7,} plus uncommitted changes in the work tree", _commit(tmp_path)
    )


def test_only_rounds_reports_every_other_case_as_not_run() -> None:
    options = Options(size=100, repeats=1, only="rounds")
    results = not_run(options, None, 10.0, rounds=_rounds_results())
    text = render(results, "python -m bench --only rounds")
    rows = {row["Goal"]: row for row in _rows(text, "## Goals")}
    assert rows["Retry round overhead"]["Verdict"] == "**PASS**"
    for goal, row in rows.items():
        if goal != "Retry round overhead":
            assert "not run (--only rounds)" in row["What is measured"], (goal, row)
    added = next(row for row in _rows(text, ROUNDS) if "added by round 2" in row["Run"])
    assert added["Fresh process, median s"] == "**0.800**"


def test_rounds_table_has_numbers(report: str) -> None:
    rows = _rows(report, ROUNDS)
    runs = [row["Run"] for row in rows]
    assert "`run_batch`, one round" in runs[0] and "core `batch()`" in runs[2]
    assert "two rounds (6 requests sent again)" in runs[1]  # 3% of 200
    assert "added by round 2" in runs[3] and "orchestration part" in runs[4]
    for row in rows[:5]:
        for column in ("Fresh process, median s", "In process, median s"):
            assert re.fullmatch(r"-?" + NUMBER, row[column].strip("*")), (column, row)


def test_orchestration_and_polling_tables_have_numbers(report: str) -> None:
    orchestration = _rows(report, "## 5. Orchestration overhead")
    assert len(orchestration) == 10  # the two runs, the overhead, its references and parts
    for row in orchestration:
        assert re.fullmatch(NUMBER, row["Median s per batch"].strip("*").lstrip("-")), row
    polling = _rows(report, "## 6. Polling cost")
    assert len(polling) == 2
    for row in polling:
        assert re.fullmatch(NUMBER, row["Retrieve calls"]) and int(row["Retrieve calls"]) > 0, row
        assert re.fullmatch(NUMBER, row["Late (s)"]), row


def test_a_case_with_the_same_modules_and_size_reuses_the_baseline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench import children

    spawned: list[dict[str, object]] = []

    def spawn(spec: dict[str, object], **_: object) -> dict[str, object]:
        spawned.append(spec)
        timed = {"seconds": 1.0, "fresh_seconds": 1.5, "import_seconds": 0.5, "count": 100}
        return {"peak_rss": 7} if spec.get("baseline") else {**timed, "peak_rss": 9}

    monkeypatch.setattr(children, "spawn", spawn)
    baselines: dict[str, int] = {}
    for key in ("submit/project", "openai/submit/project", "openai/submit/sdk"):
        row = Measured(key, 100)
        children.measure(row, {"case": key, "size": 100}, baselines)
        assert row.baselines == [7] and not row.note
    cases = [spec["case"] for spec in spawned if spec.get("baseline")]
    assert cases == ["submit/project", "openai/submit/sdk"]  # the project's modules once
