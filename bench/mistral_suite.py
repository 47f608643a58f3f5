"""The Mistral read section: its runner and its own table (`python -m bench --only mistral`);
the readers themselves are in `bench.mistral_cases`."""

from __future__ import annotations

import statistics
from typing import Any

from bench.children import case_row, log, measure
from bench.mistral_cases import API_KEY, MAX_SIZE, READERS, create_job, reply_content
from bench.tables import result_tables

MISTRAL_NOT_RUN: dict[str, Any] = {"size": 0, "rows": {}, "note": "not run"}
"""The results of a run without the Mistral rows."""


def run_mistral(size: int, repeats: int) -> dict[str, Any]:
    """Each reader `repeats` times on one ended job of `min(size, MAX_SIZE)` results:
    `{"size", "rows", "note"}` (the note says why nothing was read, or is "")."""
    from batchwork_prefect.emulator import Emulator

    size = min(size, MAX_SIZE)
    rows = {case.key: case_row(case, size) for case in READERS}
    baselines: dict[str, int] = {}
    with Emulator(api_key=API_KEY, reply_content=reply_content) as emulator:
        base_url = emulator.base_url_for("mistral")
        log(f"mistral: creating a job of {size} results")
        try:
            job_id = create_job(base_url, size)
        except Exception as exc:  # the setup failed: every row says why
            note = f"failed: {str(exc)[:300]}"
            for row in rows.values():
                row.note = row.note or note
            return {"size": size, "rows": rows, "note": note}
        for repeat in range(repeats):
            log(f"mistral read: repeat {repeat + 1}/{repeats}")
            for case in READERS:
                spec = {"case": f"mistral/read/{case.key}", "base_url": base_url}
                measure(rows[case.key], {**spec, "batch_id": job_id, "size": size}, baselines)
    return {"size": size, "rows": rows, "note": ""}


def mistral_fields(results: dict[str, Any]) -> dict[str, str]:
    """The report template's Mistral fields: its size, note, and fresh-process and
    in-process tables."""
    rows = results["rows"]
    note = results.get("note", "")
    if note or not rows:
        return {
            "mistral_size": f"{results['size']:,}",
            "mistral_note": f"\n**Not measured: {note or 'no rows'}**\n",
            "mistral_read_fresh_table": "",
            "mistral_read_table": "",
        }
    readers = list(rows.values())
    fresh, in_process = result_tables(readers, readers, rows["project"])
    return {
        "mistral_size": f"{results['size']:,}",
        "mistral_note": "",
        "mistral_read_fresh_table": fresh,
        "mistral_read_table": in_process,
    }


def render_mistral(results: dict[str, Any], command: str) -> str:
    """The Mistral read table as markdown: fresh process (import included) and in process."""
    lines = [
        "# Mistral read row",
        "",
        f"`{command}`: one ended job of {results['size']:,} results (5% errored) on the",
        "emulator's Mistral routes; medians, each run a fresh process.",
        "",
        "| Reader | Fresh process, s | In process, s | Import, s | Peak RSS over baseline, MB |",
        "|---|---|---|---|---|",
    ]
    for row in results["rows"].values():
        if not row.ok:
            lines.append(f"| {row.label} | {row.note} | | | |")
            continue
        lines.append(
            f"| {row.label} | {row.median_fresh:.3f} | {row.median_seconds:.3f} | "
            f"{row.median_import:.3f} | {row.median_working / 1e6:.1f} |"
        )
    project, raw = results["rows"]["project"], results["rows"]["raw"]
    if project.ok and raw.ok:
        ratio = statistics.median(project.fresh) / statistics.median(raw.fresh)
        lines += ["", f"This project's fresh-process read is {ratio:.2f}x the raw floor's."]
    return "\n".join(lines) + "\n"
