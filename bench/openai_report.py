"""The OpenAI read and submit section's goals (Anthropic's limits) and tables."""

from __future__ import annotations

from bench.anthropic_report import (
    READ_VS_RAW,
    READ_VS_SDK,
    SUBMIT_MEMORY,
    SUBMIT_VS_RAW,
    SUBMIT_VS_SDK,
)
from bench.formatting import mb, ratio
from bench.goal import Goal, measured_goal, time_goal
from bench.openai_suite import OpenAIResults
from bench.tables import result_tables, submitter_tables


def openai_goals(result: OpenAIResults) -> list[Goal]:
    """Anthropic's read and submit goals, with the same limits, over the OpenAI rows. The read
    vs SDK goal's detail also gives the raw floor's own ratio over the SDK: no reader that is
    slower than the raw floor can reach more."""
    readers, submitters = result.readers, result.submitters
    project, sdk, raw = readers["project"], readers["sdk"], readers["raw"]
    sent, sdk_sent, raw_sent = submitters["project"], submitters["sdk"], submitters["raw"]

    def read_detail() -> str:
        in_process = ratio(sdk.median_seconds / project.median_seconds)
        if not raw.ok:
            return f"in process: {in_process}"
        floor = ratio(sdk.median_fresh / raw.median_fresh)
        return f"in process: {in_process}; the raw floor's: {floor}"

    return [
        time_goal(
            "OpenAI: Read vs SDK",
            project,
            sdk,
            ">=",
            READ_VS_SDK,
            "the openai SDK's median read time / this project's (fresh processes, import included)",
            read_detail,
        ),
        time_goal(
            "OpenAI: Read vs raw floor",
            project,
            raw,
            "<=",
            READ_VS_RAW,
            "this project's median read time / raw httpx + orjson's (fresh processes, import "
            "included)",
        ),
        time_goal(
            "OpenAI: Submit vs SDK",
            sent,
            sdk_sent,
            ">=",
            SUBMIT_VS_SDK,
            "the openai SDK's median submit time / this project's (fresh processes, import "
            "included)",
        ),
        time_goal(
            "OpenAI: Submit vs raw floor",
            sent,
            raw_sent,
            "<=",
            SUBMIT_VS_RAW,
            "this project's median submit time / raw orjson + upload + create's (fresh "
            "processes, import included)",
        ),
        measured_goal(
            "OpenAI: Submit memory",
            [sent, raw_sent],
            lambda: sent.median_working / max(raw_sent.median_working, 1),
            "<=",
            SUBMIT_MEMORY,
            "x",
            "this project's peak RSS above baseline / raw's",
            lambda: f"{mb(sent.median_working)} vs {mb(raw_sent.median_working)} MB",
        ),
    ]


def openai_tables(result: OpenAIResults) -> tuple[str, str, str, str]:
    """The OpenAI rows' fresh-process and in-process tables: reading, then submitting."""
    readers = list(result.readers.values())
    read_fresh, read_in_process = result_tables(readers, readers, result.readers["project"])
    submit_fresh, submit_in_process = submitter_tables(
        result.submitters, "upload-only", "Minus the upload-only row, s"
    )
    return read_fresh, read_in_process, submit_fresh, submit_in_process
