"""How the report shows numbers: markdown tables, seconds, megabytes, ratios."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.children import Measured


MB = 1_000_000


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def mb(value: float) -> str:
    return f"{value / MB:,.1f}" if abs(value) < 10 * MB else f"{value / MB:,.0f}"


def secs(value: float) -> str:
    return f"{value:.3f}" if value < 10 else f"{value:.1f}"


def runs(values: Sequence[float]) -> str:
    return ", ".join(secs(value) for value in values)


def ratio(value: float) -> str:
    return f"{value:.2f}x"


def memory_cells(row: Measured) -> list[str]:
    return [mb(row.median_peak), mb(row.median_baseline), mb(row.median_working)]
