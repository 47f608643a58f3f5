"""The Gemini rows' report (`python -m bench --only gemini`): read and submit tables."""

from __future__ import annotations

from bench import gemini_workloads
from bench.formatting import mb
from bench.gemini_suite import GeminiResults
from bench.tables import fresh_table, peer_table, result_tables


def render_gemini(result: GeminiResults, command: str) -> str:
    """The read and submit tables (fresh process, then in process), as markdown."""
    intro = (
        f"`{command}`: an ended Gemini batch of {result.size:,} results of "
        f"`{gemini_workloads.MODEL}`, made from an uploaded JSONL file, so read from its "
        f"{mb(result.output_bytes)} MB responses file (`{{key, response | error}}` lines: a "
        "thought part, two text parts around a `functionCall`, usage with thought and cached "
        "counts; about 5% errors and 2% DEADLINE_EXCEEDED). Each reader starts from the batch "
        "name and reads each result's key, status, text (the first candidate's text parts, "
        'thoughts left out) and usage: this project through `get_batch(id, "gemini")'
        ".results()`; the google-genai SDK through `batches.get()` and `files.download()`, "
        "decoded and split into lines, `json.loads` of each (as Gemini's batch guide reads "
        "it); the raw floor streams the file with httpx and `orjson.loads` each line. "
        f"Submitting sends the same {result.size:,} requests: inline while the create stays "
        "within 20 MB, else a file through the resumable upload, for every submitter. "
        "Medians; each run a fresh process on the emulator."
    )
    if result.note:
        intro += f"\n\n**Not measured: {result.note}**"
    parts = ["# Gemini read and submit rows", intro]
    for title, rows, unit, baseline in (
        ("Read, fresh process, import included", result.readers, "results", ""),
        ("Read, in process, import excluded", result.readers, "results", "Import baseline"),
        ("Submit, fresh process, import included", result.submitters, "requests", ""),
        (
            "Submit, in process, import excluded",
            result.submitters,
            "requests",
            "Baseline (imports + prompts)",
        ),
    ):
        measured = list(rows.values())
        project = rows["project"]
        if baseline:
            text = peer_table(
                measured, peers=measured, project=project, unit=unit, baseline=baseline
            )
        else:
            text = fresh_table(measured, peers=measured, project=project, unit=unit)
        parts.append(f"## {title}\n\n{text}")
    return "\n\n".join(parts) + "\n"


def gemini_fields(result: GeminiResults) -> dict[str, str]:
    """The report template's Gemini fields: its size, responses file, note, and the read and
    submit tables (fresh process, then in process)."""
    fields = {
        "gemini_size": f"{result.size:,}",
        "gemini_model": gemini_workloads.MODEL,
        "gemini_output_mb": mb(result.output_bytes),
        "gemini_note": f"\n**Not measured: {result.note}**\n" if result.note else "",
    }
    tables = ("read_fresh", "read", "submit_fresh", "submit")
    if not result.readers or not result.submitters:
        return fields | {f"gemini_{name}_table": "" for name in tables}
    readers = list(result.readers.values())
    read = result_tables(readers, readers, result.readers["project"])
    submitters = list(result.submitters.values())
    project = result.submitters["project"]
    submit = (
        fresh_table(submitters, peers=submitters, project=project, unit="requests"),
        peer_table(
            submitters,
            peers=submitters,
            project=project,
            unit="requests",
            baseline="Baseline (imports + prompts)",
        ),
    )
    return fields | {
        f"gemini_{name}_table": text for name, text in zip(tables, (*read, *submit), strict=True)
    }
