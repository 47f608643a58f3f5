"""The tables every provider's read and submit sections share: fresh process, in process, steps."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from bench.children import Measured, StepRow
from bench.formatting import memory_cells, ratio, runs, secs, table


def fresh_table(
    rows: Sequence[Measured], *, peers: Sequence[Measured], project: Measured, unit: str
) -> str:
    """Fresh-process medians (the case's import included); "speed-up" (row time / this
    project's) for the peer rows only; the import's share; every run."""
    headers = ["Case", unit.capitalize(), "Median s", f"{unit.capitalize()}/s"]
    headers += ["This project's speed-up", "Of which import s", "Runs (s)"]
    lines = []
    for row in rows:
        if not row.ok:
            lines.append([row.label, f"{row.expected:,}", row.note, *[""] * (len(headers) - 3)])
            continue
        speedup = "-"
        if project.ok and row is not project and row in peers:
            speedup = ratio(row.median_fresh / project.median_fresh)
        cells = [row.label, f"{row.expected:,}", secs(row.median_fresh)]
        cells += [f"{row.expected / row.median_fresh:,.0f}", speedup]
        lines.append([*cells, secs(row.median_import), runs(row.fresh)])
    return table(headers, lines)


def peer_table(
    rows: Sequence[Measured],
    *,
    peers: Sequence[Measured],
    project: Measured,
    unit: str,
    baseline: str,
    shared: Measured | None = None,
    shared_header: str = "Minus the POST-only row, s",
) -> str:
    """In-process medians per row (the import excluded); "speed-up" (row time / this
    project's time) for the peer rows only; with `shared`, also each row's time minus the
    shared row's (the client-side share); memory above the baseline child's."""
    headers = ["Case", unit.capitalize(), "Median s", f"{unit.capitalize()}/s"]
    headers += ["This project's speed-up"]
    headers += [shared_header] if shared is not None else []
    headers += ["Peak RSS MB", f"{baseline} MB", "Peak - baseline MB", "Runs (s)"]
    lines = []
    for row in rows:
        if not row.ok:
            lines.append([row.label, f"{row.expected:,}", row.note, *[""] * (len(headers) - 3)])
            continue
        speedup = "-"
        if project.ok and row is not project and row in peers:
            speedup = ratio(row.median_seconds / project.median_seconds)
        cells = [row.label, f"{row.expected:,}", secs(row.median_seconds)]
        cells += [f"{row.expected / row.median_seconds:,.0f}", speedup]
        if shared is not None:
            client = shared.ok and row is not shared
            cells.append(secs(row.median_seconds - shared.median_seconds) if client else "-")
        lines.append([*cells, *memory_cells(row), runs(row.seconds)])
    return table(headers, lines)


def steps_table(steps: Sequence[StepRow], note: str, count: int) -> str:
    """Each step's median, what it adds to the step before, and that per result; a step
    "for reference" is shown apart, adding nothing."""
    if note or not steps:
        return f"Not measured: {note or 'no samples'}"
    headers = ["Step (each a whole pass)", "Median s", "Adds s", "Adds µs per result", "Runs (s)"]
    lines = []
    previous: float | None = 0.0
    for step in steps:
        if not step.ok:
            lines.append([step.name, step.note or "no samples", "", "", ""])
            previous = None
            continue
        median = statistics.median(step.seconds)
        adds = None
        if not step.name.startswith("for reference") and previous is not None:
            adds, previous = median - previous, median
        cells = [step.name, secs(median)]
        cells += ["-", "-"] if adds is None else [secs(adds), f"{1e6 * adds / count:,.2f}"]
        lines.append([*cells, runs(step.seconds)])
    return table(headers, lines)


def result_tables(
    rows: list[Measured], peers: list[Measured], project: Measured
) -> tuple[str, str]:
    """The fresh-process and the in-process table of a case that reads results."""
    fresh = fresh_table(rows, peers=peers, project=project, unit="results")
    in_process = peer_table(
        rows, peers=peers, project=project, unit="results", baseline="Import baseline"
    )
    return fresh, in_process


def submitter_tables(
    submitters: dict[str, Measured], shared_key: str, shared_header: str
) -> tuple[str, str]:
    """The fresh-process and the in-process table of a case that submits; the `shared_key`
    row (no peer: the transfer and emulator time) is subtracted from each peer's time."""
    rows = list(submitters.values())
    shared = submitters[shared_key]
    peers = [row for row in rows if row is not shared]
    project = submitters["project"]
    fresh = fresh_table(rows, peers=peers, project=project, unit="requests")
    in_process = peer_table(
        rows,
        peers=peers,
        project=project,
        unit="requests",
        baseline="Baseline (imports + prompts)",
        shared=shared,
        shared_header=shared_header,
    )
    return fresh, in_process
