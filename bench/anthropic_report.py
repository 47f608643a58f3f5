"""The Anthropic read, load and submit sections' goals (limits and judging) and tables."""

from __future__ import annotations

from bench.anthropic_suite import LoadResults, ReadResults, SubmitResults
from bench.formatting import MB, mb, ratio
from bench.goal import Goal, measured_goal, time_goal
from bench.tables import result_tables, submitter_tables

NOISE = 1 * MB
"""Peak RSS differences this small are allocator and page-cache noise, not growth."""

READ_VS_SDK = 15.0
"""The SDK's median fresh-process read time over this project's must be at least this."""
READ_VS_RAW = 1.0
"""This project's median fresh-process read time over the raw floor's must be at most this."""
STREAMING_GROWTH_SHARE = 0.05
"""Peak RSS may grow by at most this share of the extra JSONL from the small to the full read
(or by `NOISE`, whichever is larger)."""
COLLECT_MEMORY = 1.5
"""`collect()`'s peak RSS above its import baseline, over the JSONL size, must be at most this."""
LOAD_VS_RAW = 1.5
"""Loading persisted results (in process) over the raw read of the same file: at most this."""
SUBMIT_VS_SDK = 2.0
SUBMIT_VS_RAW = 1.0
"""Fresh-process submit times: the SDK's over this project's, this project's over raw's."""
SUBMIT_MEMORY = 1.0
"""This project's submit memory above baseline over the raw floor's must be at most this."""


def read_goals(read: ReadResults) -> list[Goal]:
    project, sdk, raw = read.readers["project"], read.readers["sdk"], read.readers["raw"]
    extra = read.jsonl_bytes - read.small_jsonl_bytes
    allowed = max(STREAMING_GROWTH_SHARE * extra, NOISE)
    return [
        time_goal(
            "Read vs SDK",
            project,
            sdk,
            ">=",
            READ_VS_SDK,
            "SDK's median read time / this project's (fresh processes, import included)",
        ),
        time_goal(
            "Read vs raw floor",
            project,
            raw,
            "<=",
            READ_VS_RAW,
            "this project's median read time / raw httpx + orjson's (fresh processes, import "
            "included)",
        ),
        measured_goal(
            "Streaming memory is flat",
            [project, read.small],
            lambda: (project.median_peak - read.small.median_peak) / MB,
            "<",
            allowed / MB,
            "MB",
            f"peak RSS growth from {read.small_size:,} to {read.size:,} results",
            lambda: (
                f"limit: {STREAMING_GROWTH_SHARE:.0%} of the extra JSONL or {mb(NOISE)} MB; "
                f"{_per_result(project.median_peak - read.small.median_peak, read)} bytes per "
                "extra result, the set of ids read (it refuses a repeated one); above-baseline "
                f"ratio {ratio(project.median_working / max(read.small.median_working, 1))}"
            ),
        ),
        measured_goal(
            "collect() memory",
            [read.collect],
            lambda: read.collect.median_working / read.jsonl_bytes,
            "<=",
            COLLECT_MEMORY,
            "x",
            "peak RSS above import baseline / JSONL size",
            lambda: (
                f"{mb(read.jsonl_bytes)} MB of JSONL; whole process: "
                f"{ratio(read.collect.median_peak / read.jsonl_bytes)}"
            ),
        ),
    ]


def _per_result(growth: float, read: ReadResults) -> str:
    """The streaming read's peak RSS growth per result the full batch has over the small one."""
    return f"{growth / max(read.size - read.small_size, 1):,.0f}"


def load_goal(load: LoadResults) -> Goal:
    project, raw = load.loaders["project"], load.loaders["raw"]
    return measured_goal(
        "Load persisted results vs raw floor",
        [project, raw],
        lambda: project.median_seconds / raw.median_seconds,
        "<=",
        LOAD_VS_RAW,
        "x",
        "`load_batch_results` median time / raw orjson's on the same file (in process, "
        "import excluded)",
        lambda: (
            f"{mb(load.record_bytes)} MB record; fresh processes: "
            f"{ratio(project.median_fresh / raw.median_fresh)}"
        ),
    )


def submit_goals(submit: SubmitResults) -> list[Goal]:
    project, sdk = submit.submitters["project"], submit.submitters["sdk"]
    raw = submit.submitters["raw"]
    return [
        time_goal(
            "Submit vs SDK",
            project,
            sdk,
            ">=",
            SUBMIT_VS_SDK,
            "SDK's median submit time / this project's (fresh processes, import included)",
        ),
        time_goal(
            "Submit vs raw floor",
            project,
            raw,
            "<=",
            SUBMIT_VS_RAW,
            "this project's median submit time / raw orjson + one POST's (fresh processes, "
            "import included)",
        ),
        measured_goal(
            "Submit memory",
            [project, raw],
            lambda: project.median_working / max(raw.median_working, 1),
            "<=",
            SUBMIT_MEMORY,
            "x",
            "this project's peak RSS above baseline / raw's",
            lambda: f"{mb(project.median_working)} vs {mb(raw.median_working)} MB",
        ),
    ]


def read_tables(read: ReadResults) -> tuple[str, str]:
    peers = list(read.readers.values())
    return result_tables([*peers, read.small, read.collect], peers, read.readers["project"])


def load_tables(load: LoadResults) -> tuple[str, str]:
    rows = list(load.loaders.values())
    return result_tables(rows, rows, load.loaders["project"])


def submit_tables(submit: SubmitResults) -> tuple[str, str]:
    return submitter_tables(submit.submitters, "post-only", "Minus the POST-only row, s")
