"""The Together read section: its results type and runner."""

from __future__ import annotations

from dataclasses import dataclass

from bench import together_cases
from bench.children import Measured, Options, case_row, log, measure
from bench.together_cases import READERS as TOGETHER_READERS
from bench.workloads import outcome


@dataclass
class TogetherResults:
    """The Together rows: one ended batch read by every reader."""

    size: int
    readers: dict[str, Measured]
    output_bytes: int = 0
    error_bytes: int = 0
    note: str = ""
    """Why nothing was read (not run, or the setup failed), or ""."""
    read: int = 0
    """Results in the two files: the requests that ran (the expired ones are in neither)."""


def run_together(options: Options, baselines: dict[str, int] | None = None) -> TogetherResults:
    """The Together read rows at `together_cases.size(options.size)`: one ended batch (the
    OpenAI rows' prompts and replies), read by every reader in a measured child."""
    from batchwork_prefect.emulator import Emulator

    size = together_cases.size(options.size)
    ran = sum(1 for index in range(size) if outcome(index) != "expired")
    readers = {case.key: case_row(case, ran) for case in TOGETHER_READERS}
    results = TogetherResults(size, readers, read=ran)
    with Emulator(reply_content=together_cases.reply_content) as emulator:
        base_url, batch_id = emulator.base_url_for("together"), ""
        baselines = {} if baselines is None else baselines
        log(f"together: creating a batch of {size} results")
        try:
            batch_id, results.output_bytes, results.error_bytes = together_cases.create_batch(
                base_url, size
            )
        except Exception as exc:  # the setup failed: every row says why
            results.note = f"failed: {str(exc)[:300]}"
            for row in results.readers.values():
                row.note = row.note or results.note
        for repeat in range(options.repeats):
            log(f"together read: repeat {repeat + 1}/{options.repeats}")
            for case in TOGETHER_READERS:
                spec = {"case": f"together/read/{case.key}", "base_url": base_url}
                measure(results.readers[case.key], {**spec, "batch_id": batch_id}, baselines)
    return results
