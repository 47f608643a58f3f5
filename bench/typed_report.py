"""The typed results section's goals (limit and judging) and table."""

from __future__ import annotations

import statistics

from bench.formatting import mb, ratio, runs, secs, table
from bench.goal import Goal, measured_goal
from bench.typed import PAIRS as TYPED_PAIRS
from bench.typed import REFERENCES as TYPED_REFERENCES
from bench.typed_suite import TypedResults

TYPED_VS_PLAIN = 1.3
"""A typed read over the plain read of the same batch (fresh processes, paired repeats'
median): at most this."""
TYPED_GOALS = {
    "anthropic/model": "Typed read vs plain: Anthropic, model",
    "anthropic/schema": "Typed read vs plain: Anthropic, JSON schema",
    "openai/model": "Typed read vs plain: OpenAI, model",
}


def typed_goals(result: TypedResults) -> list[Goal]:
    """Each typed read over the plain read of the same batch in the same repeat (fresh
    processes, import included), the median of those pairs."""
    measure = (
        "median over repeats of the typed read's time / the plain read's of the same batch "
        "in the same repeat (fresh processes, import included)"
    )
    found = []
    for typed, plain in TYPED_PAIRS:
        name = TYPED_GOALS[typed]
        rows = [result.rows[typed], result.rows[plain]] if result.rows else []
        if result.note or not rows:
            detail = f"not measured ({result.note or 'no samples'})"
            found.append(Goal(name, None, "<=", TYPED_VS_PLAIN, "x", measure, detail))
            continue

        def detail(typed: str = typed, plain: str = plain) -> str:
            in_process = statistics.median(result.ratios(typed, plain, fresh=False))
            pairs = len(result.ratios(typed, plain))
            return f"in process: {ratio(in_process)}; {pairs} pair(s)"

        found.append(
            measured_goal(
                name,
                rows,
                lambda typed=typed, plain=plain: statistics.median(result.ratios(typed, plain)),
                "<=",
                TYPED_VS_PLAIN,
                "x",
                measure,
                detail,
            )
        )
    return found


def typed_table(result: TypedResults) -> str:
    """Each row's fresh-process and in-process medians and runs; a typed row's paired ratio
    over its plain row (per repeat, then the median)."""
    if result.note or not result.rows:
        return f"Not measured: {result.note or 'no samples'}"
    plain_of = dict(TYPED_PAIRS + TYPED_REFERENCES)
    lines = []
    for key, row in result.rows.items():
        if not row.ok:
            lines.append([row.label, f"{row.expected:,}", row.note, *[""] * 7])
            continue
        fresh_ratio = in_process_ratio = "-"
        plain = plain_of.get(key)
        if plain is not None and result.rows[plain].ok:
            fresh_ratio = f"**{ratio(statistics.median(result.ratios(key, plain)))}**"
            in_process = statistics.median(result.ratios(key, plain, fresh=False))
            in_process_ratio = ratio(in_process)
        cells = [row.label, f"{row.expected:,}", secs(row.median_fresh), fresh_ratio]
        cells += [secs(row.median_import), runs(row.fresh), secs(row.median_seconds)]
        cells += [in_process_ratio, mb(row.median_working), runs(row.seconds)]
        lines.append(cells)
    headers = ["Read", "Results", "Fresh process, median s", "Over plain (paired median)"]
    headers += ["Of which import s", "Runs (s)", "In process, median s"]
    headers += ["Over plain, in process", "Peak - baseline MB", "Runs (s)"]
    return table(headers, lines)
