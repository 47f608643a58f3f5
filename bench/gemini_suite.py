"""The Gemini rows (`python -m bench --only gemini`, a report of their own): one ended batch
read by every reader, the same requests submitted by every submitter to a fresh emulator."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import gemini_workloads
from bench.children import Measured, case_row, log, measure
from bench.gemini_cases import READERS, SUBMITTERS


@dataclass
class GeminiResults:
    size: int
    readers: dict[str, Measured]
    submitters: dict[str, Measured]
    output_bytes: int = 0
    """The responses file's size."""
    note: str = ""
    """Why nothing was read (the setup failed), or ""."""
    submit_notes: list[str] = field(default_factory=list)


def run_gemini(size: int, repeats: int) -> GeminiResults:
    """The Gemini rows at `gemini_workloads.size(size)`, `repeats` times each."""
    from batchwork_prefect.emulator import Emulator

    size = gemini_workloads.size(size)
    results = GeminiResults(
        size,
        readers={case.key: case_row(case, size) for case in READERS},
        submitters={case.key: case_row(case, size) for case in SUBMITTERS},
    )
    baselines: dict[str, int] = {}
    with Emulator(
        reply_content=gemini_workloads.reply_content, reply_usage=gemini_workloads.reply_usage
    ) as emulator:
        base_url, batch_id = emulator.base_url_for("gemini"), ""
        log(f"gemini: creating a batch of {size} results")
        try:
            batch_id = gemini_workloads.create_batch(base_url, size)
            results.output_bytes = gemini_workloads.warm_results(base_url, batch_id)
        except Exception as exc:  # the setup failed: every row says why
            results.note = f"failed: {str(exc)[:300]}"
            for row in results.readers.values():
                row.note = row.note or results.note
        for repeat in range(repeats):
            log(f"gemini read: repeat {repeat + 1}/{repeats}")
            for case in READERS:
                spec = {"case": f"gemini/read/{case.key}", "base_url": base_url}
                measure(results.readers[case.key], {**spec, "batch_id": batch_id}, baselines)
    for repeat in range(repeats):
        log(f"gemini submit: repeat {repeat + 1}/{repeats}")
        for case in SUBMITTERS:
            row = results.submitters[case.key]
            with Emulator() as emulator:
                base_url = emulator.base_url_for("gemini")
                spec = {"case": f"gemini/submit/{case.key}", "base_url": base_url}
                measure(row, {**spec, "size": size}, baselines)
                if row.note:
                    continue
                held = gemini_workloads.created_requests(base_url)
                if emulator.batches_created != 1 or held != size:
                    row.note = (
                        f"failed: {emulator.batches_created} batches created holding {held} "
                        f"requests, expected 1 of {size}"
                    )
    return results
