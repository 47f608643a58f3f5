"""The read vs raw floor goals of the providers read in their own sections (Together, xAI,
Gemini, Mistral): Anthropic's limit, this project's fresh-process read over the raw floor's."""

from __future__ import annotations

from bench.anthropic_report import READ_VS_RAW
from bench.children import Measured
from bench.goal import Goal, time_goal

READ_FLOOR_MEASURE = (
    "this project's median read time / raw httpx + orjson's (fresh processes, import included)"
)


def read_floor_goal(provider: str, readers: dict[str, Measured], note: str = "") -> Goal:
    """`provider`'s read vs raw floor goal; not measured when either row is missing."""
    name = f"{provider}: Read vs raw floor"
    project, raw = readers.get("project"), readers.get("raw")
    if project is None or raw is None:
        why = note or "no samples"
        return Goal(name, None, "<=", READ_VS_RAW, "x", READ_FLOOR_MEASURE, f"not measured ({why})")
    return time_goal(name, project, raw, "<=", READ_VS_RAW, READ_FLOOR_MEASURE)
