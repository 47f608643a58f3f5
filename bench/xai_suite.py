"""The xAI read section: its results type and runner."""

from __future__ import annotations

from dataclasses import dataclass

from bench.children import Measured, Options, case_row, log, measure
from bench.xai_cases import READERS as XAI_READERS


@dataclass
class XAIResults:
    """The xAI rows: one ended xAI batch read by this project and by the raw floor."""

    size: int
    readers: dict[str, Measured]
    note: str = ""
    """Why nothing was read (not run, or the setup failed), or ""."""


def run_xai(options: Options, baselines: dict[str, int] | None = None) -> XAIResults:
    """The xAI rows at `options.size`: one ended batch (made with raw calls), read by every
    reader in fresh processes."""
    from batchwork_prefect.emulator import Emulator
    from bench import xai_cases

    size = options.size
    results = XAIResults(size, {case.key: case_row(case, size) for case in XAI_READERS})
    baselines = {} if baselines is None else baselines
    with Emulator(reply_content=xai_cases.reply_content) as emulator:
        base_url, batch_id = emulator.base_url_for("xai"), ""
        log(f"xai: creating a batch of {size} results")
        try:
            batch_id = xai_cases.create_batch(base_url, size)
        except Exception as exc:  # the setup failed: every row says why
            results.note = f"failed: {str(exc)[:300]}"
            for row in results.readers.values():
                row.note = row.note or results.note
        for repeat in range(options.repeats):
            log(f"xai read: repeat {repeat + 1}/{options.repeats}")
            for case in XAI_READERS:
                spec = {"case": f"xai/read/{case.key}", "base_url": base_url}
                measure(results.readers[case.key], {**spec, "batch_id": batch_id}, baselines)
    return results
