"""The Gemini rows' readers agree and the submitters each leave one whole batch.

Against the bench's Gemini read batch (a responses file: thought, text and functionCall
parts, some requests errored): this project's reader, the google-genai SDK's and the raw
floor's must each see every result once and give the same key, status, text and output
token count; each submitter must leave one batch of every request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from batchwork_prefect.emulator import Emulator
from bench import gemini_cases, gemini_workloads
from bench.cases import Job
from bench.workloads import custom_id, outcome, prompts

SIZE = 200
Reader = Callable[[Job], int]


@pytest.fixture(scope="module")
def batch() -> Iterator[Job]:
    with Emulator(
        api_key=gemini_workloads.API_KEY,
        reply_content=gemini_workloads.reply_content,
        reply_usage=gemini_workloads.reply_usage,
    ) as emulator:
        base_url = emulator.base_url_for("gemini")
        yield Job(base_url=base_url, batch_id=gemini_workloads.create_batch(base_url, SIZE))


def _read(reader: Reader, job: Job, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def keep(key: object, status: object, text: object, usage: object) -> None:
        assert key not in seen
        if isinstance(usage, dict):  # the SDK's and the raw floor's usageMetadata
            output = usage.get("candidatesTokenCount", 0) + usage.get("thoughtsTokenCount", 0)
        else:
            output = None if usage is None else usage.output_tokens
        seen[str(key)] = (str(getattr(status, "value", status)), text or "", output)

    monkeypatch.setattr(gemini_cases, "_consume", keep)
    assert reader(job) == SIZE
    return seen


def test_the_three_readers_read_the_same_fields(
    batch: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _read(gemini_cases.read_project, batch, monkeypatch)
    assert _read(gemini_cases.read_raw, batch, monkeypatch) == project
    assert _read(gemini_cases.read_sdk, batch, monkeypatch) == project
    statuses = {key: fields[0] for key, fields in project.items()}
    assert statuses == {
        custom_id(i): "succeeded" if outcome(i) == "succeeded" else "errored" for i in range(SIZE)
    }
    texts = [fields[1] for fields in project.values() if fields[0] == "succeeded"]
    assert all(texts)


@pytest.mark.parametrize("case", gemini_cases.SUBMITTERS, ids=lambda case: case.key)
def test_each_submitter_leaves_one_batch_of_every_request(case: Any) -> None:
    with Emulator(api_key=gemini_workloads.API_KEY) as emulator:
        base_url = emulator.base_url_for("gemini")
        assert case.run(Job(base_url=base_url, prompts=tuple(prompts(SIZE)))) == SIZE
        assert emulator.batches_created == 1
        assert gemini_workloads.created_requests(base_url) == SIZE


def test_the_report_has_the_read_and_submit_tables() -> None:
    from bench.children import Measured
    from bench.gemini_report import render_gemini
    from bench.gemini_suite import GeminiResults

    def row(label: str, seconds: float) -> Measured:
        return Measured(
            label,
            SIZE,
            seconds=[seconds],
            fresh=[seconds + 1],
            imports=[1.0],
            peaks=[2_000_000],
            baselines=[1_000_000],
        )

    rows = {"project": row("project", 1.0), "sdk": row("sdk", 3.0), "raw": row("raw", 0.5)}
    text = render_gemini(GeminiResults(SIZE, rows, dict(rows)), "python -m bench --only gemini")
    for title in ("Read, fresh process", "Read, in process", "Submit, fresh process"):
        assert f"## {title}" in text
    assert "| sdk | 200 | 4.000 |" in text and "3.00x" in text


def test_the_full_report_has_the_gemini_and_mistral_sections_and_goals() -> None:
    from bench.children import Measured
    from bench.gemini_suite import GeminiResults
    from bench.report import goals, render
    from bench.suite import Options, not_run

    def row(label: str, fresh: float) -> Measured:
        return Measured(
            label,
            SIZE,
            seconds=[fresh - 1],
            fresh=[fresh],
            imports=[1.0],
            peaks=[2_000_000],
            baselines=[1_000_000],
        )

    rows = {"project": row("project", 2.0), "sdk": row("sdk", 4.0), "raw": row("raw", 1.6)}
    results = not_run(Options(size=SIZE, repeats=1, only="openai"), None, 1.0)
    results.gemini = GeminiResults(SIZE, rows, dict(rows))
    results.mistral = {"size": SIZE, "rows": dict(rows), "note": ""}
    found = {goal.name: goal for goal in goals(results)}
    for provider in ("Gemini", "Mistral"):
        goal = found[f"{provider}: Read vs raw floor"]
        assert goal.value == 1.25 and goal.passed is False  # 2 s / 1.6 s, fresh processes
    text = render(results, "python -m bench")
    gemini = text.split("## 14. Gemini: read and submit a batch", 1)[1].split("\n## ", 1)[0]
    assert f"An ended Gemini batch of {SIZE} results" in gemini and "Not measured" not in gemini
    for title in ("Read, fresh process", "Read, in process", "Submit, fresh process"):
        assert f"### {title}" in gemini
    assert "| sdk | 200 | 4.000 |" in gemini
    mistral = text.split("## 15. Mistral: read an ended batch job", 1)[1]
    assert f"batch job of {SIZE} results" in mistral and "| raw | 200 | 1.600 |" in mistral
    bare = render(not_run(Options(size=SIZE, repeats=1, only="openai"), None, 1.0), "x")
    assert "**Not measured: not run (--only openai)**" in bare.split("## 15. Mistral", 1)[1]
