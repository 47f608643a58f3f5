"""A goal (a measured value against its limit), the helpers that judge one, and the goals table."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.children import Measured
from bench.formatting import ratio, table

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
}
UNITS: dict[str, Callable[[float], str]] = {
    "x": lambda value: f"{value:.2f}x",
    "s": lambda value: f"{value:.2f} s",
    "MB": lambda value: f"{value:.1f} MB",
    "%": lambda value: f"{100 * value:.2f}%",
}


@dataclass(frozen=True)
class Goal:
    """One goal: a value measured in this run, compared with the goal's limit."""

    name: str
    value: float | None
    """None when it could not be measured (a peer missing or failed)."""
    comparison: str
    """How `value` must compare with `limit`: a key of `COMPARISONS`."""
    limit: float
    unit: str
    """A key of `UNITS`: how `value` and `limit` are shown ("%": both are fractions)."""
    measure: str
    """What `value` is, in words."""
    detail: str = ""

    @property
    def passed(self) -> bool | None:
        if self.value is None:
            return None
        return COMPARISONS[self.comparison](self.value, self.limit)

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "MISS", None: "n/a"}[self.passed]

    @property
    def shown_value(self) -> str:
        return "not measured" if self.value is None else UNITS[self.unit](self.value)

    @property
    def shown_limit(self) -> str:
        return f"{self.comparison} {UNITS[self.unit](self.limit)}"


def unmeasured(*rows: Measured) -> str:
    """Why a goal over `rows` cannot be judged, or "" when every row has samples."""
    absent = [row for row in rows if not row.ok]
    return "; ".join(f"{row.label.split(':')[0]}: {row.note or 'no samples'}" for row in absent)


def measured_goal(
    name: str,
    rows: Sequence[Measured],
    value: Callable[[], float],
    comparison: str,
    limit: float,
    unit: str,
    measure: str,
    detail: Callable[[], str] = lambda: "",
) -> Goal:
    """A goal whose value is computed from `rows`, or unmeasured when one of them is."""
    missing = unmeasured(*rows)
    if missing:
        return Goal(name, None, comparison, limit, unit, measure, f"not measured ({missing})")
    return Goal(name, value(), comparison, limit, unit, measure, detail())


def time_goal(
    name: str,
    project: Measured,
    peer: Measured,
    comparison: str,
    limit: float,
    measure: str,
    detail: Callable[[], str] | None = None,
) -> Goal:
    """A goal on the median times of `project` and `peer` in fresh processes (import
    included): the peer's over the project's for a speed-up to reach (`>=`), the project's
    over the peer's for a slowdown to stay under (`<=`); the same ratio in process is the
    detail unless `detail` is given."""
    slower, faster = (peer, project) if comparison == ">=" else (project, peer)
    return measured_goal(
        name,
        [project, peer],
        lambda: slower.median_fresh / faster.median_fresh,
        comparison,
        limit,
        "x",
        measure,
        detail or (lambda: f"in process: {ratio(slower.median_seconds / faster.median_seconds)}"),
    )


def goals_table(found: Sequence[Goal]) -> str:
    """Goal, measured value, limit, verdict, and what was measured."""
    rows = []
    for goal in found:
        what = f"{goal.measure} ({goal.detail})" if goal.detail else goal.measure
        rows.append([goal.name, goal.shown_value, goal.shown_limit, f"**{goal.verdict}**", what])
    return table(["Goal", "Measured", "Limit", "Verdict", "What is measured"], rows)
