"""The release section's goals (limits and judging) and tables."""

from __future__ import annotations

from bench.flow_report import POLLING_LATENESS_FLOOR, POLLING_LATENESS_SHARE
from bench.formatting import ratio, secs, table
from bench.goal import Goal
from bench.release import (
    ON_TIME_SHARE,
    PENDING,
    ModeRun,
    PollerWindow,
    ReleaseResults,
    lateness_quantile,
)

RELEASE_HELD_SHARE = 0.1
"""A released run may hold a worker process for at most this share of its batch's run."""
RELEASE_ON_TIME = 1.0
"""The share of the poller's polls that must come within `ON_TIME_SHARE` of their delay."""
RELEASE_POLLER_CPU = 0.1
"""The poller's CPU over the window, as a share of one core: strictly less."""


def release_goals(result: ReleaseResults) -> list[Goal]:
    """Worker time per batch, one poller over `PENDING` batches (schedule and CPU), and how
    soon a released run notices its batch's end."""
    released = result.runs.get("release", ModeRun("release", note="not run"))
    in_process = result.runs.get("in_process", ModeRun("in_process", note="not run"))
    poller = result.poller
    held_what = "the released run's process-seconds during its batch's run / the batch's run"
    cpu_what = f"the poller's CPU seconds / the window's, over {PENDING:,} pending batches"
    schedule_what = (
        f"share of the poller's polls of {PENDING:,} pending batches made within "
        f"{ON_TIME_SHARE:.0%} of their scheduled delay"
    )
    noticed_what = "the batch's end to the poller's resume (the run's Resuming state)"
    allowed = max(POLLING_LATENESS_SHARE * released.batch_seconds, POLLING_LATENESS_FLOOR)
    names = (
        "Release: worker time per batch",
        "Release: poller keeps 1,000 schedules",
        "Release: poller CPU",
        "Release: end noticed",
    )
    runs_missing = _release_missing(result.note, released, in_process)
    poller_missing = result.note or poller.note or ("" if poller.ok else "no polls")
    found: list[Goal] = []
    if runs_missing:
        detail = f"not measured ({runs_missing})"
        found.append(Goal(names[0], None, "<=", RELEASE_HELD_SHARE, "x", held_what, detail))
    else:
        found.append(
            Goal(
                names[0],
                released.held_while_running / released.batch_seconds,
                "<=",
                RELEASE_HELD_SHARE,
                "x",
                held_what,
                f"process-seconds per batch: release {secs(released.process_seconds)} vs in "
                f"process {secs(in_process.process_seconds)} "
                f"({ratio(released.process_seconds / in_process.process_seconds)}); batch "
                f"wall time {secs(released.batch_seconds)} s; CPU {secs(released.cpu_seconds)} "
                f"vs {secs(in_process.cpu_seconds)} s",
            )
        )
    if poller_missing:
        detail = f"not measured ({poller_missing})"
        found.append(Goal(names[1], None, ">=", RELEASE_ON_TIME, "%", schedule_what, detail))
        found.append(Goal(names[2], None, "<", RELEASE_POLLER_CPU, "%", cpu_what, detail))
    else:
        found.append(
            Goal(
                names[1],
                poller.on_time_share,
                ">=",
                RELEASE_ON_TIME,
                "%",
                schedule_what,
                f"{poller.on_time:,} of {poller.polls:,} polls in {poller.seconds:.0f} s, "
                f"{poller.missed:,} not made; lateness p99 "
                f"{lateness_quantile(poller, 0.99):.1%}, worst "
                f"{max(poller.lateness_shares, default=0.0):.1%} of the delay",
            )
        )
        found.append(
            Goal(
                names[2],
                poller.cpu_share,
                "<",
                RELEASE_POLLER_CPU,
                "%",
                cpu_what,
                f"{secs(poller.cpu_seconds)} CPU s over {poller.seconds:.0f} s, "
                f"{poller.polls / poller.seconds:.1f} polls/s",
            )
        )
    if runs_missing:
        detail = f"not measured ({runs_missing})"
        found.append(Goal(names[3], None, "<=", POLLING_LATENESS_FLOOR, "s", noticed_what, detail))
    else:
        found.append(
            Goal(
                names[3],
                released.noticed_seconds,
                "<=",
                allowed,
                "s",
                noticed_what,
                f"{released.noticed_seconds / released.batch_seconds:.0%} of the batch's "
                f"{secs(released.batch_seconds)} s; in process (to the end of the wait task): "
                f"{secs(in_process.noticed_seconds)} s; limit: "
                f"{POLLING_LATENESS_SHARE:.0%} of the batch or {POLLING_LATENESS_FLOOR:.0f} s",
            )
        )
    return found


def _release_missing(note: str, *runs: ModeRun) -> str:
    if note:
        return note
    return "; ".join(f"{run.mode}: {run.note or 'no samples'}" for run in runs if not run.ok)


def release_runs_table(result: ReleaseResults) -> str:
    if result.note:
        return f"Not measured: {result.note}"
    headers = [
        "Wait mode",
        "Processes",
        "Process-seconds",
        "Of which during the batch",
        "CPU s",
        "Batch s",
        "Run s (Running to Completed)",
        "End noticed after s",
        "End to Completed s",
        "States",
    ]
    rows = []
    for mode, run in result.runs.items():
        if not run.ok:
            rows.append([f"`{mode}`", run.note or "no samples", *[""] * (len(headers) - 2)])
            continue
        rows.append(
            [
                f"`{mode}`",
                str(run.processes),
                secs(run.process_seconds),
                secs(run.held_while_running),
                secs(run.cpu_seconds),
                secs(run.batch_seconds),
                secs(run.run_seconds),
                secs(run.noticed_seconds),
                secs(run.results_seconds),
                " -> ".join(run.states),
            ]
        )
    released, in_process = result.runs.get("release"), result.runs.get("in_process")
    if released is not None and in_process is not None and released.ok and in_process.ok:
        rows.append(
            [
                "**release / in process**",
                "",
                f"**{ratio(released.process_seconds / in_process.process_seconds)}**",
                ratio(released.held_while_running / max(in_process.held_while_running, 1e-9)),
                ratio(released.cpu_seconds / in_process.cpu_seconds),
                *[""] * 5,
            ]
        )
    return table(headers, rows)


def release_poller_table(poller: PollerWindow, note: str) -> str:
    if note or poller.note or not poller.ok:
        return f"Not measured: {note or poller.note or 'no polls'}"
    headers = ["Pending batches", "Window s", "Polls", "Polls/s", "On time", "Not made"]
    headers += ["Lateness p50 / p99 / worst (% of delay)", "CPU s", "CPU (% of a core)"]
    headers += ["Before the window: CPU s", "Writing the records s"]
    lateness = " / ".join(
        f"{share:.1%}"
        for share in (
            lateness_quantile(poller, 0.5),
            lateness_quantile(poller, 0.99),
            max(poller.lateness_shares, default=0.0),
        )
    )
    row = [
        f"{poller.batches:,}",
        f"{poller.seconds:.0f}",
        f"{poller.polls:,}",
        f"{poller.polls / poller.seconds:.1f}",
        f"{poller.on_time:,} ({poller.on_time_share:.2%})",
        f"{poller.missed:,}",
        lateness,
        secs(poller.cpu_seconds),
        f"{poller.cpu_share:.1%}",
        secs(poller.startup_cpu_seconds),
        secs(poller.write_seconds),
    ]
    return table(headers, [row])
