"""BENCHMARKS.md: `report_template.md` filled from one run of the suite.

The goals table (measured value, limit, PASS/MISS) and every other table are computed from
the run's measurements; the prose lives in the template. How the cases are measured and what
limits the missed goals: docs/benchmarks.md.
"""

from __future__ import annotations

import operator
import os
import platform
import statistics
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from string import Template

from batchwork_prefect.core.polling import (
    DEFAULT_MAX_POLL_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    LATENESS_FRACTION,
)
from bench import openai_workloads
from bench.async_flow import async_flow_table
from bench.imports import CORE, FLOOR, ImportResults
from bench.orchestration import POLL_INTERVAL as ORCHESTRATION_POLL_INTERVAL
from bench.orchestration import PROMPT_CHARS as ORCHESTRATION_PROMPT_CHARS
from bench.release import (
    MAX_POLL_INTERVAL as RELEASE_MAX_POLL_INTERVAL,
)
from bench.release import (
    ON_TIME_SHARE,
    PENDING,
    SPREAD,
    ModeRun,
    PollerWindow,
    ReleaseResults,
    lateness_quantile,
)
from bench.release import (
    POLL_INTERVAL as RELEASE_POLL_INTERVAL,
)
from bench.rounds import KINDS as ROUNDS_KINDS
from bench.rounds import PROCESSING_SECONDS as ROUNDS_PROCESSING_SECONDS
from bench.rounds import RETRIED_SHARE, RoundsResults
from bench.suite import (
    FIXED_POLL_SECONDS,
    LoadResults,
    Measured,
    OpenAIResults,
    OrchestrationResults,
    PollingResults,
    ReadResults,
    StepRow,
    SubmitResults,
    SuiteResults,
)
from bench.typed import PAIRS as TYPED_PAIRS
from bench.typed import REFERENCES as TYPED_REFERENCES
from bench.typed import TypedResults
from bench.workloads import (
    MAX_TOKENS,
    PROMPT_CHARS,
    REPLY_CHARS,
    SIGNATURE_BYTES,
    THINKING_CHARS,
)

MB = 1_000_000
NOISE = 1 * MB
"""Peak RSS differences this small are allocator and page-cache noise, not growth."""
PACKAGES = (
    "batchwork-prefect",
    "anthropic",
    "openai",
    "batchwork-ai",
    "httpx",
    "httpx2",
    "orjson",
    "pydantic",
    "prefect",
)


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
TEMPLATE = Path(__file__).resolve().parent / "report_template.md"
SMOKE_NOTE = (
    "\n**A `--smoke` run: a functional check, not a measurement.** The orchestration and "
    "retry-round cases ran alongside the others, so no number below is comparable with "
    "another run's; rerun without `--smoke` to measure.\n"
)
ONLY_NOTE = (
    "\n**Only the {only} rows ran (`--only {only}`)**: every other case shows as not run "
    "and its goals as n/a.\n"
)
"""The report's prose, with `$name` placeholders filled from the run (`string.Template`)."""


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


# machine -----------------------------------------------------------------------------------


def machine() -> list[tuple[str, str]]:
    """(what, value) rows describing where the benchmark ran."""
    rows = [
        ("CPU", _cpu_model()),
        ("Cores", str(os.cpu_count())),
        ("RAM", _ram()),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
    ]
    rows += [(name, _version(name)) for name in PACKAGES]
    rows.append(("Commit", _commit()))
    return rows


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit(repository: Path = TEMPLATE.parent) -> str:
    """HEAD's short hash, and whether the work tree was clean (`git status --porcelain`)."""
    try:
        head = _git(repository, "rev-parse", "--short", "HEAD").strip()
        changes = _git(repository, "status", "--porcelain")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if changes.strip():
        return f"{head} plus uncommitted changes in the work tree"
    return f"{head} (clean work tree)"


def _git(repository: Path, *args: str) -> str:
    completed = subprocess.run(
        ["git", *args],
        cwd=repository,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return completed.stdout


# formatting --------------------------------------------------------------------------------


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


def _memory_cells(row: Measured) -> list[str]:
    return [mb(row.median_peak), mb(row.median_baseline), mb(row.median_working)]


# goals -------------------------------------------------------------------------------------

READ_VS_SDK = 15.0
"""The SDK's median fresh-process read time over this project's must be at least this."""
READ_VS_RAW = 1.1
"""This project's median fresh-process read time over the raw floor's must be at most this."""
STREAMING_GROWTH_SHARE = 0.05
"""Peak RSS may grow by at most this share of the extra JSONL from the small to the full read
(or by `NOISE`, whichever is larger)."""
COLLECT_MEMORY = 1.5
"""`collect()`'s peak RSS above its import baseline, over the JSONL size, must be at most this."""
LOAD_VS_RAW = 1.5
"""Loading persisted results (in process) over the raw read of the same file: at most this."""
SUBMIT_VS_SDK = 2.0
SUBMIT_VS_RAW = 1.2
"""Fresh-process submit times: the SDK's over this project's, this project's over raw's."""
SUBMIT_MEMORY = 1.0
"""This project's submit memory above baseline over the raw floor's must be at most this."""
IMPORT_SECONDS = 0.3
IMPORT_VS_FLOOR = 3.0
"""The core import (median of fresh processes): at most this many seconds, and at most this
many times `import httpx, orjson`."""
ORCHESTRATION_OVERHEAD = 1.0
"""Seconds a `run_batch` flow run may add to the core path per batch (strictly less)."""
POLLING_CALLS = 0.25
"""The adaptive poller's calls over the fixed poller's (worst runs) must be at most this."""
POLLING_LATENESS_SHARE = 0.1
POLLING_LATENESS_FLOOR = 60.0
"""The adaptive poller must notice the end within this share of the batch's length, or this
many seconds, whichever is larger (worst run)."""
RELEASE_HELD_SHARE = 0.1
"""A released run may hold a worker process for at most this share of its batch's run."""
RELEASE_ON_TIME = 1.0
"""The share of the poller's polls that must come within `ON_TIME_SHARE` of their delay."""
RELEASE_POLLER_CPU = 0.1
"""The poller's CPU over the window, as a share of one core: strictly less."""
TYPED_VS_PLAIN = 1.3
"""A typed read over the plain read of the same batch (fresh processes, paired repeats'
median): at most this."""
TYPED_GOALS = {
    "anthropic/model": "Typed read vs plain: Anthropic, model",
    "anthropic/schema": "Typed read vs plain: Anthropic, JSON schema",
    "openai/model": "Typed read vs plain: OpenAI, model",
}


def goals(results: SuiteResults) -> list[Goal]:
    """Every goal, judged on this run's measurements."""
    return [
        *_read_goals(results.read),
        _load_goal(results.load),
        *_submit_goals(results.submit),
        *_import_goals(results.imports),
        _orchestration_goal(results.orchestration),
        _rounds_goal(results.rounds),
        *_polling_goals(results.polling),
        *_openai_goals(results.openai),
        *_release_goals(results.release),
        *_typed_goals(results.typed),
    ]


def _unmeasured(*rows: Measured) -> str:
    """Why a goal over `rows` cannot be judged, or "" when every row has samples."""
    absent = [row for row in rows if not row.ok]
    return "; ".join(f"{row.label.split(':')[0]}: {row.note or 'no samples'}" for row in absent)


def _goal(
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
    missing = _unmeasured(*rows)
    if missing:
        return Goal(name, None, comparison, limit, unit, measure, f"not measured ({missing})")
    return Goal(name, value(), comparison, limit, unit, measure, detail())


def _time_goal(
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
    return _goal(
        name,
        [project, peer],
        lambda: slower.median_fresh / faster.median_fresh,
        comparison,
        limit,
        "x",
        measure,
        detail or (lambda: f"in process: {ratio(slower.median_seconds / faster.median_seconds)}"),
    )


def _read_goals(read: ReadResults) -> list[Goal]:
    project, sdk, raw = read.readers["project"], read.readers["sdk"], read.readers["raw"]
    extra = read.jsonl_bytes - read.small_jsonl_bytes
    allowed = max(STREAMING_GROWTH_SHARE * extra, NOISE)
    return [
        _time_goal(
            "Read vs SDK",
            project,
            sdk,
            ">=",
            READ_VS_SDK,
            "SDK's median read time / this project's (fresh processes, import included)",
        ),
        _time_goal(
            "Read vs raw floor",
            project,
            raw,
            "<=",
            READ_VS_RAW,
            "this project's median read time / raw httpx + orjson's (fresh processes, import "
            "included)",
        ),
        _goal(
            "Streaming memory is flat",
            [project, read.small],
            lambda: (project.median_peak - read.small.median_peak) / MB,
            "<",
            allowed / MB,
            "MB",
            f"peak RSS growth from {read.small_size:,} to {read.size:,} results",
            lambda: (
                f"limit: {STREAMING_GROWTH_SHARE:.0%} of the extra JSONL or {mb(NOISE)} MB; "
                "above-baseline ratio "
                f"{ratio(project.median_working / max(read.small.median_working, 1))}"
            ),
        ),
        _goal(
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


def _load_goal(load: LoadResults) -> Goal:
    project, raw = load.loaders["project"], load.loaders["raw"]
    return _goal(
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


def _submit_goals(submit: SubmitResults) -> list[Goal]:
    project, sdk = submit.submitters["project"], submit.submitters["sdk"]
    raw = submit.submitters["raw"]
    return [
        _time_goal(
            "Submit vs SDK",
            project,
            sdk,
            ">=",
            SUBMIT_VS_SDK,
            "SDK's median submit time / this project's (fresh processes, import included)",
        ),
        _time_goal(
            "Submit vs raw floor",
            project,
            raw,
            "<=",
            SUBMIT_VS_RAW,
            "this project's median submit time / raw orjson + one POST's (fresh processes, "
            "import included)",
        ),
        _goal(
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


def _openai_goals(result: OpenAIResults) -> list[Goal]:
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
        _time_goal(
            "OpenAI: Read vs SDK",
            project,
            sdk,
            ">=",
            READ_VS_SDK,
            "the openai SDK's median read time / this project's (fresh processes, import included)",
            read_detail,
        ),
        _time_goal(
            "OpenAI: Read vs raw floor",
            project,
            raw,
            "<=",
            READ_VS_RAW,
            "this project's median read time / raw httpx + orjson's (fresh processes, import "
            "included)",
        ),
        _time_goal(
            "OpenAI: Submit vs SDK",
            sent,
            sdk_sent,
            ">=",
            SUBMIT_VS_SDK,
            "the openai SDK's median submit time / this project's (fresh processes, import "
            "included)",
        ),
        _time_goal(
            "OpenAI: Submit vs raw floor",
            sent,
            raw_sent,
            "<=",
            SUBMIT_VS_RAW,
            "this project's median submit time / raw orjson + upload + create's (fresh "
            "processes, import included)",
        ),
        _goal(
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


def _import_goals(result: ImportResults) -> list[Goal]:
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


def _orchestration_goal(result: OrchestrationResults) -> Goal:
    name, measure = "Orchestration overhead", "median flow run - median core run, per batch"
    if result.note or not result.flow:
        detail = f"not measured ({result.note or 'no samples'})"
        return Goal(name, None, "<", ORCHESTRATION_OVERHEAD, "s", measure, detail)
    overhead = statistics.median(result.flow) - statistics.median(result.core)
    return Goal(name, overhead, "<", ORCHESTRATION_OVERHEAD, "s", measure)


def _rounds_goal(result: RoundsResults) -> Goal:
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
    one, two = result.median_short_heartbeat("one"), result.median_short_heartbeat("two")
    if one is not None and two is not None:
        detail += f", and {two - one:.3f} s with the heartbeat thread's sleeps cut to 10 ms"
    limit = orchestration + ROUNDS_PROCESSING_SECONDS
    return Goal(name, added, "<=", limit, "s", measure, detail)


def _typed_goals(result: TypedResults) -> list[Goal]:
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
            _goal(
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


def _polling_goals(result: PollingResults) -> list[Goal]:
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


def _release_goals(result: ReleaseResults) -> list[Goal]:
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


def goals_table(found: Sequence[Goal]) -> str:
    """Goal, measured value, limit, verdict, and what was measured."""
    rows = []
    for goal in found:
        what = f"{goal.measure} ({goal.detail})" if goal.detail else goal.measure
        rows.append([goal.name, goal.shown_value, goal.shown_limit, f"**{goal.verdict}**", what])
    return table(["Goal", "Measured", "Limit", "Verdict", "What is measured"], rows)


# tables ------------------------------------------------------------------------------------


def _fresh_table(
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


def _peer_table(
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
        lines.append([*cells, *_memory_cells(row), runs(row.seconds)])
    return table(headers, lines)


def _steps_table(steps: Sequence[StepRow], note: str, count: int) -> str:
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


def _read_tables(read: ReadResults) -> tuple[str, str]:
    peers = list(read.readers.values())
    return _result_tables([*peers, read.small, read.collect], peers, read.readers["project"])


def _load_tables(load: LoadResults) -> tuple[str, str]:
    rows = list(load.loaders.values())
    return _result_tables(rows, rows, load.loaders["project"])


def _result_tables(
    rows: list[Measured], peers: list[Measured], project: Measured
) -> tuple[str, str]:
    """The fresh-process and the in-process table of a case that reads results."""
    fresh = _fresh_table(rows, peers=peers, project=project, unit="results")
    in_process = _peer_table(
        rows, peers=peers, project=project, unit="results", baseline="Import baseline"
    )
    return fresh, in_process


def _submit_tables(submit: SubmitResults) -> tuple[str, str]:
    return _submitter_tables(submit.submitters, "post-only", "Minus the POST-only row, s")


def _submitter_tables(
    submitters: dict[str, Measured], shared_key: str, shared_header: str
) -> tuple[str, str]:
    """The fresh-process and the in-process table of a case that submits; the `shared_key`
    row (no peer: the transfer and emulator time) is subtracted from each peer's time."""
    rows = list(submitters.values())
    shared = submitters[shared_key]
    peers = [row for row in rows if row is not shared]
    project = submitters["project"]
    fresh = _fresh_table(rows, peers=peers, project=project, unit="requests")
    in_process = _peer_table(
        rows,
        peers=peers,
        project=project,
        unit="requests",
        baseline="Baseline (imports + prompts)",
        shared=shared,
        shared_header=shared_header,
    )
    return fresh, in_process


def _openai_tables(result: OpenAIResults) -> tuple[str, str, str, str]:
    """The OpenAI rows' fresh-process and in-process tables: reading, then submitting."""
    readers = list(result.readers.values())
    read_fresh, read_in_process = _result_tables(readers, readers, result.readers["project"])
    submit_fresh, submit_in_process = _submitter_tables(
        result.submitters, "upload-only", "Minus the upload-only row, s"
    )
    return read_fresh, read_in_process, submit_fresh, submit_in_process


def _import_tables(result: ImportResults) -> tuple[str, str]:
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


def _orchestration_table(result: OrchestrationResults) -> str:
    if result.note or not result.flow:
        return f"Not measured: {result.note or 'no samples'}"
    flow, core = statistics.median(result.flow), statistics.median(result.core)
    rows = [
        ["`run_batch` flow run", secs(flow), runs(result.flow)],
        ["core `batch()` -> `wait()` -> `collect()`", secs(core), runs(result.core)],
        ["**overhead per batch** (flow - core)", f"**{flow - core:.3f}**", ""],
    ]
    if result.empty and result.core_in_flow:
        empty = statistics.median(result.empty)
        wrapped = statistics.median(result.core_in_flow)
        rows += [
            [
                "reference: an empty Prefect flow run (what any flow run costs here)",
                secs(empty),
                runs(result.empty),
            ],
            [
                "reference: one flow run taking the same requests, the core inside, no tasks",
                secs(wrapped),
                runs(result.core_in_flow),
            ],
            [
                "of the overhead: Prefect's own flow run (empty flow)",
                f"{empty:.3f}",
                "",
            ],
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
        if result.empty_short_heartbeat_sleep:
            short = statistics.median(result.empty_short_heartbeat_sleep)
            rows.insert(
                -3,
                [
                    "diagnosis: the empty flow run with its heartbeat thread sleeping 10 ms"
                    " steps, not 1 s (Prefect patched in the child)",
                    secs(short),
                    runs(result.empty_short_heartbeat_sleep),
                ],
            )
    rows.append(["warm-up flow run (server start-up, excluded)", secs(result.warmup), ""])
    return table(["Path", "Median s per batch", "Runs (s)"], rows)


def _rounds_table(result: RoundsResults) -> str:
    if not result.ok:
        return f"Not measured: {result.note or 'no samples'}"
    labels = {
        "one": "`run_batch`, one round (no marker)",
        "two": f"`run_batch`, two rounds ({result.retried:,} requests sent again)",
        "core": "core `batch()` -> `wait()` -> `collect()` (no marker)",
    }
    short = {kind: result.median_short_heartbeat(kind) for kind in ROUNDS_KINDS}
    rows = []
    for kind, label in labels.items():
        cells = [label, secs(result.median_fresh(kind)), runs(result.fresh[kind])]
        cells += [secs(result.median_in_process(kind)), runs(result.in_process[kind])]
        diagnosis = short[kind]
        samples = result.short_heartbeat.get(kind, [])
        cells += ["", ""] if diagnosis is None else [secs(diagnosis), runs(samples)]
        rows.append(cells)

    def difference(first: str, second: str, bold: int) -> list[str]:
        values = [
            result.median_fresh(first) - result.median_fresh(second),
            result.median_in_process(first) - result.median_in_process(second),
        ]
        one, two = short[first], short[second]
        shown = [f"**{v:.3f}**" if i == bold else f"{v:.3f}" for i, v in enumerate(values)]
        diagnosis = "" if one is None or two is None else f"{one - two:.3f}"
        return [shown[0], "", shown[1], "", diagnosis, ""]

    rows.append(["**added by round 2** (two rounds - one)", *difference("two", "one", 0)])
    rows.append(["one round's orchestration part (flow - core)", *difference("one", "core", 1)])
    if result.warmup:
        rows.append(["warm-up child (makes the Prefect home, excluded)", secs(result.warmup)])
        rows[-1] += [""] * 5
    headers = ["Run", "Fresh process, median s", "Runs (s)", "In process, median s"]
    headers += ["Runs (s)", "Diagnosis: heartbeat sleeps 10 ms, median s", "Runs (s)"]
    return table(headers, rows)


def _typed_table(result: TypedResults) -> str:
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


def _polling_table(result: PollingResults) -> str:
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


def _release_runs_table(result: ReleaseResults) -> str:
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


def _release_poller_table(poller: PollerWindow, note: str) -> str:
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


# the report --------------------------------------------------------------------------------


def fields(results: SuiteResults, command: str) -> dict[str, str]:
    """What fills the template's placeholders, all from this run."""
    found = goals(results)
    read, load, submit = results.read, results.load, results.submit
    read_fresh, read_in_process = _read_tables(read)
    load_fresh, load_in_process = _load_tables(load)
    submit_fresh, submit_in_process = _submit_tables(submit)
    import_table, import_steps_table = _import_tables(results.imports)
    openai = results.openai
    openai_read_fresh, openai_read, openai_submit_fresh, openai_submit = _openai_tables(openai)
    outcomes = read.outcomes
    return {
        "command": command,
        "smoke_note": (SMOKE_NOTE if results.options.smoke else "")
        + (ONLY_NOTE.format(only=results.options.only) if results.options.only else ""),
        "stamp": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "minutes": f"{results.seconds / 60:.1f}",
        "repeats": str(results.options.repeats),
        "size": f"{results.options.size:,}",
        "machine_table": table(["", ""], machine()),
        "goals_passed": str(sum(goal.passed is True for goal in found)),
        "goals_count": str(len(found)),
        "goals_table": goals_table(found),
        "read_size": f"{read.size:,}",
        "read_small_size": f"{read.small_size:,}",
        "succeeded": f"{outcomes.get('succeeded', 0):,}",
        "errored": f"{outcomes.get('errored', 0):,}",
        "expired": f"{outcomes.get('expired', 0):,}",
        "reply_chars": str(REPLY_CHARS),
        "text_block_chars": str(REPLY_CHARS // 2),
        "thinking_chars": str(THINKING_CHARS),
        "signature_chars": str(4 * -(-SIGNATURE_BYTES // 3)),
        "jsonl_mb": mb(read.jsonl_bytes),
        "jsonl_bytes": f"{read.jsonl_bytes:,}",
        "small_jsonl_mb": mb(read.small_jsonl_bytes),
        "read_fresh_table": read_fresh,
        "read_table": read_in_process,
        "read_steps_table": _steps_table(read.steps, read.steps_note, read.size),
        "load_size": f"{load.size:,}",
        "record_mb": mb(load.record_bytes),
        "load_fresh_table": load_fresh,
        "load_table": load_in_process,
        "load_steps_table": _steps_table(load.steps, load.steps_note or load.note, load.size),
        "submit_size": f"{submit.size:,}",
        "prompt_chars": str(PROMPT_CHARS),
        "max_tokens": str(MAX_TOKENS),
        "submit_fresh_table": submit_fresh,
        "submit_table": submit_in_process,
        "import_rounds": str(max((len(v) for v in results.imports.seconds.values()), default=0)),
        "import_core": CORE,
        "import_floor": FLOOR,
        "import_table": import_table,
        "import_steps_table": import_steps_table,
        "orchestration_requests": f"{results.orchestration.requests:,}",
        "orchestration_prompt_chars": str(ORCHESTRATION_PROMPT_CHARS),
        "orchestration_poll_interval": f"{ORCHESTRATION_POLL_INTERVAL:g}",
        "orchestration_table": _orchestration_table(results.orchestration),
        "async_flow_requests": str(results.async_flow.requests),
        "async_flow_table": async_flow_table(results.async_flow),
        "rounds_requests": f"{results.rounds.requests:,}",
        "rounds_retried": f"{results.rounds.retried:,}",
        "rounds_retried_share": f"{RETRIED_SHARE:.0%}",
        "rounds_processing_seconds": f"{ROUNDS_PROCESSING_SECONDS:g}",
        "rounds_table": _rounds_table(results.rounds),
        "polling_batch_seconds": f"{results.polling.batch_seconds:,.0f}",
        "fixed_poll_seconds": f"{FIXED_POLL_SECONDS:.0f}",
        "polling_table": _polling_table(results.polling),
        "openai_size": f"{openai.size:,}",
        "openai_model": openai_workloads.MODEL,
        "openai_note": f"\n**Not measured: {openai.note}**\n" if openai.note else "",
        "openai_succeeded": f"{openai.outcomes.get('succeeded', 0):,}",
        "openai_tool_calls": f"{openai.outcomes.get('tool_calls', 0):,}",
        "openai_errored": f"{openai.outcomes.get('errored', 0):,}",
        "openai_expired": f"{openai.outcomes.get('expired', 0):,}",
        "openai_output_mb": mb(openai.output_bytes),
        "openai_error_mb": mb(openai.error_bytes),
        "openai_read_fresh_table": openai_read_fresh,
        "openai_read_table": openai_read,
        "openai_submit_fresh_table": openai_submit_fresh,
        "openai_submit_table": openai_submit,
        "release_requests": f"{results.release.requests:,}",
        "release_batch_seconds": f"{results.release.batch_seconds:.0f}",
        "release_server_seconds": f"{results.release.server_seconds:.0f}",
        "release_pending": f"{PENDING:,}",
        "release_spread": f"{SPREAD:,.0f}",
        "release_poll_interval": f"{RELEASE_POLL_INTERVAL:.0f}",
        "release_max_poll_interval": f"{RELEASE_MAX_POLL_INTERVAL:.0f}",
        "release_window_seconds": f"{results.release.poller.seconds:.0f}",
        "release_on_time": f"{ON_TIME_SHARE:.0%}",
        "release_runs_table": _release_runs_table(results.release),
        "release_poller_table": _release_poller_table(results.release.poller, results.release.note),
        "typed_size": f"{results.typed.size:,}",
        "typed_succeeded": f"{results.typed.outcomes.get('succeeded', 0):,}",
        "typed_errored": f"{results.typed.outcomes.get('errored', 0):,}",
        "typed_expired": f"{results.typed.outcomes.get('expired', 0):,}",
        "typed_answer_chars": f"{results.typed.answer_chars:,.0f}",
        "typed_anthropic_mb": mb(results.typed.results_bytes.get("anthropic", 0)),
        "typed_openai_mb": mb(results.typed.results_bytes.get("openai", 0)),
        "typed_openai_batches": str(results.typed.batches.get("openai", 0)),
        "typed_limit": f"{TYPED_VS_PLAIN:g}",
        "typed_table": _typed_table(results.typed),
        "gemini_section": _gemini_section(results),
    }


def _gemini_section(results: SuiteResults) -> str:
    from bench.gemini_report import gemini_section  # it reads this module's tables

    return gemini_section(results.gemini)


def render(results: SuiteResults, command: str, template: Path = TEMPLATE) -> str:
    """The whole BENCHMARKS.md: the template filled from this run's measurements."""
    text = Template(template.read_text(encoding="utf-8")).substitute(fields(results, command))
    return text.rstrip() + "\n"
