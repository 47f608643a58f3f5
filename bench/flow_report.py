"""The orchestration, retry-round and polling sections' goals (limits and judging) and tables."""

from __future__ import annotations

import statistics

from batchwork_prefect.core.polling import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    LATENESS_FRACTION,
)
from bench.flow_suite import FIXED_POLL_SECONDS, OrchestrationResults, PollingResults
from bench.formatting import runs, secs, table
from bench.goal import Goal
from bench.rounds import PROCESSING_SECONDS as ROUNDS_PROCESSING_SECONDS
from bench.rounds import RoundsResults

ORCHESTRATION_OVERHEAD = 0.3
"""Seconds a `run_batch` flow run may add to the core path per batch (strictly less)."""
POLLING_CALLS = 0.25
"""The adaptive poller's calls over the fixed poller's (worst runs) must be at most this."""
POLLING_LATENESS_SHARE = 0.1
POLLING_LATENESS_FLOOR = 60.0
"""The adaptive poller must notice the end within this share of the batch's length, or this
many seconds, whichever is larger (worst run)."""


def orchestration_goal(result: OrchestrationResults) -> Goal:
    name, measure = "Orchestration overhead", "median flow run - median core run, per batch"
    if result.note or not result.flow:
        detail = f"not measured ({result.note or 'no samples'})"
        return Goal(name, None, "<", ORCHESTRATION_OVERHEAD, "s", measure, detail)
    overhead = statistics.median(result.flow) - statistics.median(result.core)
    return Goal(name, overhead, "<", ORCHESTRATION_OVERHEAD, "s", measure)


def rounds_goal(result: RoundsResults) -> Goal:
    """A second round adds at most one batch's orchestration cost (the one-round run's own,
    in process: flow - core) plus the provider's time for that round."""
    name = "Retry round overhead"
    measure = (
        "median two-round flow run - median one-round flow run, fresh processes; limit: the "
        "one-round run's orchestration part (median flow run - median core run, in process) "
        f"+ the provider's time for round 2 ({ROUNDS_PROCESSING_SECONDS:g} s)"
    )
    if not result.ok:
        detail = f"not measured ({result.note or 'no samples'})"
        return Goal(name, None, "<=", 0.0, "s", measure, detail)
    added = result.median_fresh("two") - result.median_fresh("one")
    orchestration = result.median_in_process("one") - result.median_in_process("core")
    in_process = result.median_in_process("two") - result.median_in_process("one")
    detail = (
        f"round 2 sent {result.retried:,} of {result.requests:,} requests again; in process "
        f"it added {in_process:.3f} s, {in_process / orchestration:.2f}x the orchestration part"
    )
    limit = orchestration + ROUNDS_PROCESSING_SECONDS
    return Goal(name, added, "<=", limit, "s", measure, detail)


def polling_goals(result: PollingResults) -> list[Goal]:
    if result.note or not result.adaptive or not result.fixed:
        detail = f"not measured ({result.note or 'no samples'})"
        return [
            Goal("Polling calls", None, "<=", POLLING_CALLS, "x", "retrieve calls", detail),
            Goal("Polling lateness", None, "<=", POLLING_LATENESS_FLOOR, "s", "lateness", detail),
        ]
    adaptive_calls = max(calls for calls, _ in result.adaptive)
    fixed_calls = min(calls for calls, _ in result.fixed)
    late = max(late for _, late in result.adaptive)
    allowed = max(POLLING_LATENESS_SHARE * result.batch_seconds, POLLING_LATENESS_FLOOR)
    return [
        Goal(
            "Polling calls",
            adaptive_calls / fixed_calls,
            "<=",
            POLLING_CALLS,
            "x",
            f"adaptive `wait()`'s retrieve calls / the fixed {FIXED_POLL_SECONDS:.0f} s "
            "poller's (worst runs)",
            f"{adaptive_calls} vs {fixed_calls} calls",
        ),
        Goal(
            "Polling lateness",
            late,
            "<=",
            allowed,
            "s",
            "how long after the batch ended adaptive `wait()` noticed it (worst run)",
            f"{100 * late / result.batch_seconds:.1f}% of the batch's "
            f"{result.batch_seconds:,.0f} s; limit: {POLLING_LATENESS_SHARE:.0%} of it or "
            f"{POLLING_LATENESS_FLOOR:.0f} s",
        ),
    ]


def orchestration_table(result: OrchestrationResults) -> str:
    if result.note or not result.flow:
        return f"Not measured: {result.note or 'no samples'}"
    flow, core = statistics.median(result.flow), statistics.median(result.core)
    rows = [
        ["`run_batch` flow run", secs(flow), runs(result.flow)],
        ["core `batch()` -> `wait()` -> `collect()`", secs(core), runs(result.core)],
        ["**overhead per batch** (flow - core)", f"**{flow - core:.3f}**", ""],
    ]
    if result.empty and result.empty_unjoined and result.core_in_flow:
        empty = statistics.median(result.empty_unjoined)
        wrapped = statistics.median(result.core_in_flow)
        joined = statistics.median(result.empty)
        rows += [
            [
                "reference: an empty flow run, ending as `run_batch` runs end (without"
                " joining its heartbeat thread)",
                secs(empty),
                runs(result.empty_unjoined),
            ],
            [
                "reference: one flow run taking the same requests, the core inside, no tasks"
                " (ending as `run_batch` runs end)",
                secs(wrapped),
                runs(result.core_in_flow),
            ],
            [
                "reference: an empty flow run, ending as Prefect 3.9's sync engine ends"
                " other runs (joining its heartbeat thread)",
                secs(joined),
                runs(result.empty),
            ],
            ["of the overhead: a flow run itself (empty flow)", f"{empty:.3f}", ""],
            [
                "of the overhead: the requests as a flow parameter (core in a flow - empty"
                " flow - core)",
                f"{wrapped - empty - core:.3f}",
                "",
            ],
            [
                "of the overhead: `run_batch`'s task runs, records and artifacts (flow - core"
                " in a flow)",
                f"{flow - wrapped:.3f}",
                "",
            ],
        ]
    rows.append(["warm-up flow run (server start-up, excluded)", secs(result.warmup), ""])
    return table(["Path", "Median s per batch", "Runs (s)"], rows)


def rounds_table(result: RoundsResults) -> str:
    if not result.ok:
        return f"Not measured: {result.note or 'no samples'}"
    labels = {
        "one": "`run_batch`, one round (no marker)",
        "two": f"`run_batch`, two rounds ({result.retried:,} requests sent again)",
        "core": "core `batch()` -> `wait()` -> `collect()` (no marker)",
    }
    rows = []
    for kind, label in labels.items():
        cells = [label, secs(result.median_fresh(kind)), runs(result.fresh[kind])]
        cells += [secs(result.median_in_process(kind)), runs(result.in_process[kind])]
        rows.append(cells)

    def difference(first: str, second: str, bold: int) -> list[str]:
        values = [
            result.median_fresh(first) - result.median_fresh(second),
            result.median_in_process(first) - result.median_in_process(second),
        ]
        shown = [f"**{v:.3f}**" if i == bold else f"{v:.3f}" for i, v in enumerate(values)]
        return [shown[0], "", shown[1], ""]

    rows.append(["**added by round 2** (two rounds - one)", *difference("two", "one", 0)])
    rows.append(["one round's orchestration part (flow - core)", *difference("one", "core", 1)])
    if result.warmup:
        rows.append(["warm-up child (makes the Prefect home, excluded)", secs(result.warmup)])
        rows[-1] += [""] * 3
    headers = ["Run", "Fresh process, median s", "Runs (s)", "In process, median s"]
    headers += ["Runs (s)"]
    return table(headers, rows)


def polling_table(result: PollingResults) -> str:
    if result.note or not result.adaptive or not result.fixed:
        return f"Not measured: {result.note or 'no samples'}"
    adaptive = (
        f"adaptive `job.wait()` (defaults: {DEFAULT_POLL_INTERVAL:.0f} s start, "
        f"{LATENESS_FRACTION:.0%} of elapsed, max {DEFAULT_MAX_POLL_INTERVAL:.0f} s)"
    )
    rows = []
    for name, samples in (
        (adaptive, result.adaptive),
        (f"fixed {FIXED_POLL_SECONDS:.0f} s poller", result.fixed),
    ):
        calls = statistics.median(calls for calls, _ in samples)
        late = statistics.median(late for _, late in samples)
        rows.append(
            [
                name,
                f"{calls:.0f}",
                f"{late:.1f}",
                f"{100 * late / result.batch_seconds:.2f}%",
                ", ".join(f"{c} calls / {lt:.1f} s" for c, lt in samples),
            ]
        )
    return table(["Poller", "Retrieve calls", "Late (s)", "Late (% of elapsed)", "Runs"], rows)
