"""The import section's goals (limits and judging) and tables."""

from __future__ import annotations

import statistics

from bench.formatting import runs, secs, table
from bench.goal import Goal
from bench.imports import CORE, FLOOR, ImportResults

IMPORT_SECONDS = 0.3
IMPORT_VS_FLOOR = 3.0
"""The core import (median of fresh processes): at most this many seconds, and at most this
many times `import httpx, orjson`."""


def import_goals(result: ImportResults) -> list[Goal]:
    core, floor = result.seconds.get(CORE, []), result.seconds.get(FLOOR, [])
    names = ("Core import time", "Core import vs httpx + orjson")
    what = f"median of fresh processes timing `{CORE}`"
    if result.note or not core or not floor:
        detail = f"not measured ({result.note or 'no samples'})"
        return [
            Goal(names[0], None, "<=", IMPORT_SECONDS, "s", what, detail),
            Goal(names[1], None, "<=", IMPORT_VS_FLOOR, "x", what, detail),
        ]
    core_s, floor_s = statistics.median(core), statistics.median(floor)
    return [
        Goal(names[0], core_s, "<=", IMPORT_SECONDS, "s", what),
        Goal(
            names[1],
            core_s / floor_s,
            "<=",
            IMPORT_VS_FLOOR,
            "x",
            f"{what} / `{FLOOR}`'s",
            f"{secs(core_s)} vs {secs(floor_s)} s",
        ),
    ]


def import_tables(result: ImportResults) -> tuple[str, str]:
    if result.note:
        return f"Not measured: {result.note}", ""
    rows = []
    for statement, seconds in result.seconds.items():
        if seconds:
            rows.append([f"`{statement}`", secs(statistics.median(seconds)), runs(seconds)])
    timed = table(["Fresh process", "Median s", "Runs (s)"], rows)
    total = sum(seconds for _, seconds in result.steps) or 1.0
    step_rows = [
        [step, f"{1000 * seconds:,.1f}", f"{seconds / total:.0%}"] for step, seconds in result.steps
    ]
    step_rows.append(
        ["**all of it, as `-X importtime` counts it**", f"**{1000 * total:,.1f}**", ""]
    )
    steps = table(["Step of the core import", "ms (`-X importtime`)", "Share"], step_rows)
    return timed, steps
