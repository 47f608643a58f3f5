"""The bench's xAI rows (`--only xai`): both readers read every result of one ended batch,
and the report's section 13 shows their tables."""

from __future__ import annotations

from bench.report import render
from bench.suite import Options, not_run, run_xai


def test_only_xai_reads_every_result_with_both_readers_and_reports_them() -> None:
    options = Options(size=60, repeats=1, smoke=True, only="xai")
    xai = run_xai(options)
    assert xai.note == ""
    for row in xai.readers.values():
        assert row.note == "" and len(row.seconds) == 1 and row.expected == 60
    results = not_run(options, None, 1.0)
    results.xai = xai
    text = render(results, "python -m bench --only xai")
    section = text[text.index("## 13. xAI: read an ended batch") :].split("\n## ", 1)[0]
    assert "An ended xAI batch of 60 results" in section
    assert "raw httpx + orjson (floor)" in section
    assert "batchwork-prefect `get_batch(...).results()`" in section
    assert "Not measured" not in section


def test_a_run_without_the_xai_rows_says_they_were_not_run() -> None:
    text = render(not_run(Options(size=60, repeats=1, only="openai"), None, 1.0), "x")
    section = text[text.index("## 13. xAI: read an ended batch") :]
    assert "**Not measured: not run (--only openai)**" in section
