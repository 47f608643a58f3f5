"""Runs every case against emulators served from this process and gathers the samples.

Timed work happens in fresh child processes (`bench.child`), so a child's peak RSS is its own
and the emulator's memory is not counted; each child gives a fresh-process time (the case's
import included) and an in-process time (the run alone). Repeats go round-robin over the
peers, so a drift in the machine's speed touches every peer alike.
"""

from __future__ import annotations

import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import openai_workloads
from bench.async_flow import REQUESTS as ASYNC_FLOW_REQUESTS
from bench.async_flow import AsyncFlowResults, run_async_flow
from bench.cases import CASES, COLLECT, LOADERS, POST_ONLY, READERS, SUBMITTERS, Case
from bench.gemini_cases import CASES as GEMINI_CASES
from bench.imports import STATEMENTS, ImportResults, import_steps, timed_import
from bench.openai_cases import CASES as OPENAI_CASES
from bench.openai_cases import READERS as OPENAI_READERS
from bench.openai_cases import SUBMITTERS as OPENAI_SUBMITTERS
from bench.openai_cases import UPLOAD_ONLY
from bench.persisted import SCOPE
from bench.release import (
    BATCH_SECONDS,
    QUICK_BATCH_SECONDS,
    QUICK_WINDOW_SECONDS,
    SMOKE_BATCH_SECONDS,
    SMOKE_WINDOW_SECONDS,
    WINDOW_SECONDS,
    ReleaseResults,
    run_release,
)
from bench.rounds import ROUNDS_REQUESTS, RoundsResults, run_rounds
from bench.typed import CASES as TYPED_CASES
from bench.typed import TypedResults, run_typed
from bench.workloads import (
    API_KEY,
    MODEL,
    create_batch,
    outcome,
    reply_content,
    reply_usage,
    warm_results,
)

ROOT = Path(__file__).resolve().parent.parent
ALL_CASES = {**CASES, **OPENAI_CASES, **TYPED_CASES, **GEMINI_CASES}
CHILD_TIMEOUT = 1800.0
STEP_PASSES = 2
"""Passes of each step-by-step table (fewer than the repeats when there are more: a full
pass over 100,000 results is long, and the steps explain the peer tables, not replace them)."""
POLL_BATCH_SECONDS = 3600.0
FIXED_POLL_SECONDS = 15.0
ORCHESTRATION_REQUESTS = 1000


@dataclass(frozen=True)
class Options:
    size: int
    repeats: int
    smoke: bool = False
    """A functional check, not a measurement: the orchestration case (most of it Prefect's
    server start-up) runs alongside the others, so no timing of the run is comparable."""
    only: str = ""
    """"async", "gemini", "openai", "release", "rounds" or "typed": run those rows alone; every
    other case is reported as not run."""
    quick: bool = False
    """A tiny run: the release section's batch and poller window are shortened too."""


@dataclass
class Measured:
    """The samples of one case; `note` says why there are none (not installed, failed)."""

    label: str
    expected: int
    note: str = ""
    seconds: list[float] = field(default_factory=list)
    """In process: the run alone, the case's modules already imported."""
    peaks: list[int] = field(default_factory=list)
    baselines: list[int] = field(default_factory=list)
    fresh: list[float] = field(default_factory=list)
    """A fresh process: the case's import and the run."""
    imports: list[float] = field(default_factory=list)
    """The import alone (fresh minus in process)."""

    @property
    def ok(self) -> bool:
        return not self.note and bool(self.seconds)

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)

    @property
    def median_fresh(self) -> float:
        return statistics.median(self.fresh)

    @property
    def median_import(self) -> float:
        return statistics.median(self.imports)

    @property
    def median_peak(self) -> float:
        return statistics.median(self.peaks)

    @property
    def median_baseline(self) -> float:
        return statistics.median(self.baselines)

    @property
    def median_working(self) -> float:
        """Peak RSS above the import (and input) baseline of the same repeat."""
        return statistics.median(p - b for p, b in zip(self.peaks, self.baselines, strict=True))


@dataclass
class StepRow:
    """One step of a step-by-step table: a whole pass doing one more thing than the last."""

    name: str
    seconds: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.note and bool(self.seconds)


@dataclass
class ReadResults:
    size: int
    small_size: int
    jsonl_bytes: int
    small_jsonl_bytes: int
    readers: dict[str, Measured]
    small: Measured
    collect: Measured
    outcomes: dict[str, int] = field(default_factory=dict)
    """How many results of the full batch end each way (succeeded, errored, expired)."""
    steps: list[StepRow] = field(default_factory=list)
    steps_note: str = ""


@dataclass
class LoadResults:
    size: int
    record_bytes: int = 0
    loaders: dict[str, Measured] = field(default_factory=dict)
    steps: list[StepRow] = field(default_factory=list)
    steps_note: str = ""
    note: str = ""
    """Why nothing was loaded (the setup failed), or ""."""


@dataclass
class SubmitResults:
    size: int
    submitters: dict[str, Measured]


@dataclass
class OpenAIResults:
    """The OpenAI rows: one ended batch read by every reader, the same requests submitted by
    every submitter."""

    size: int
    readers: dict[str, Measured]
    submitters: dict[str, Measured]
    output_bytes: int = 0
    error_bytes: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    """How many results end each way (succeeded, errored, expired), and how many of the
    succeeded are tool calls alone (`tool_calls`)."""
    note: str = ""
    """Why nothing was read (the setup failed), or ""."""


@dataclass
class OrchestrationResults:
    requests: int
    warmup: float = 0.0
    flow: list[float] = field(default_factory=list)
    core: list[float] = field(default_factory=list)
    empty: list[float] = field(default_factory=list)
    """An empty Prefect flow run: what any flow run costs on the same server."""
    core_in_flow: list[float] = field(default_factory=list)
    """A flow run taking the same requests as its parameter, running the core inside."""
    empty_short_heartbeat_sleep: list[float] = field(default_factory=list)
    """The empty flow run with its heartbeat thread's one-second sleeps cut to 10 ms."""
    note: str = ""


@dataclass
class PollingResults:
    batch_seconds: float
    adaptive: list[tuple[int, float]] = field(default_factory=list)
    fixed: list[tuple[int, float]] = field(default_factory=list)
    note: str = ""


@dataclass
class SuiteResults:
    options: Options
    read: ReadResults
    load: LoadResults
    submit: SubmitResults
    openai: OpenAIResults
    imports: ImportResults
    orchestration: OrchestrationResults
    polling: PollingResults
    seconds: float
    release: ReleaseResults = field(
        default_factory=lambda: ReleaseResults(BATCH_SECONDS, note="not run")
    )
    rounds: RoundsResults = field(default_factory=lambda: RoundsResults(0, note="not run"))
    typed: TypedResults = field(default_factory=lambda: TypedResults(0, note="not run"))
    async_flow: AsyncFlowResults = field(
        default_factory=lambda: AsyncFlowResults(ASYNC_FLOW_REQUESTS, note="not run")
    )
    gemini: OpenAIResults = field(
        default_factory=lambda: OpenAIResults(0, readers={}, submitters={}, note="not run")
    )
    """The Gemini rows (bench/gemini_suite.py), in the OpenAI rows' shape."""


class ChildError(RuntimeError):
    """A child process failed; the message is the last line of its stderr."""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def spawn(
    spec: dict[str, Any], *, env: dict[str, str] | None = None, modules: Sequence[str] = ()
) -> dict[str, Any]:
    """Run `bench.child` with SPEC in a fresh interpreter, importing `modules` first; what it
    measured."""
    environment = dict(os.environ if env is None else env)
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), environment.get("PYTHONPATH")])
    )
    with tempfile.TemporaryDirectory(prefix="bench-child-") as folder:
        output = Path(folder) / "result.json"
        completed = subprocess.run(
            [sys.executable, "-m", "bench.child", json.dumps(spec), str(output)]
            + ([",".join(modules)] if modules else []),
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            check=False,
        )
        if completed.returncode != 0 or not output.exists():
            lines = [line for line in completed.stderr.splitlines() if line.strip()]
            raise ChildError((lines[-1] if lines else f"exit {completed.returncode}")[:300])
        result: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
        return result


def measure(
    row: Measured,
    spec: dict[str, Any],
    baselines: dict[str, int],
    *,
    env: dict[str, str] | None = None,
) -> None:
    """One timed child of a case, and its baseline; failures become the row's note.

    The baseline child (same imports and inputs, no work) runs once for each set of modules
    and inputs, kept in `baselines` (what it measures does not drift between repeats).
    """
    if row.note:
        return
    modules = ALL_CASES[spec["case"]].modules
    key = f"{modules}/{spec.get('size')}"
    try:
        result = spawn(spec, env=env, modules=modules)
        if key not in baselines:
            baseline = spawn({**spec, "baseline": True}, env=env, modules=modules)
            baselines[key] = baseline["peak_rss"]
    except (ChildError, subprocess.TimeoutExpired) as exc:
        row.note = f"failed: {exc}"
        return
    if result["count"] != row.expected:
        row.note = f"failed: got {result['count']} of {row.expected}"
        return
    row.seconds.append(result["seconds"])
    row.fresh.append(result["fresh_seconds"])
    row.imports.append(result["import_seconds"])
    row.peaks.append(result["peak_rss"])
    row.baselines.append(baselines[key])


def _row(case: Case, expected: int) -> Measured:
    return Measured(case.label, expected, note="" if case.installed else "not installed")


def run_read_and_load(
    options: Options, baselines: dict[str, int] | None = None
) -> tuple[ReadResults, LoadResults]:
    """Read an ended batch with every reader, plus `collect()`, a batch a fifth the size and
    the read path step by step; then persist the full batch's results and load them."""
    from batchwork_prefect.emulator import Emulator

    small_size = max(1, options.size // 5)
    with Emulator(reply_content=reply_content, reply_usage=reply_usage) as emulator:
        base_url = emulator.base_url
        log(f"read: creating batches of {options.size} and {small_size} results")
        big, small = create_batch(base_url, options.size), create_batch(base_url, small_size)
        results = ReadResults(
            size=options.size,
            small_size=small_size,
            jsonl_bytes=warm_results(base_url, big),
            small_jsonl_bytes=warm_results(base_url, small),
            readers={case.key: _row(case, options.size) for case in READERS},
            small=_row(READERS[0], small_size),
            collect=_row(COLLECT, options.size),
            outcomes=_outcomes(options.size),
        )
        baselines = {} if baselines is None else baselines
        for repeat in range(options.repeats):
            log(f"read: repeat {repeat + 1}/{options.repeats}")
            for case in READERS:
                spec = {"case": f"read/{case.key}", "base_url": base_url, "batch_id": big}
                measure(results.readers[case.key], spec, baselines)
            spec = {"case": "read/project", "base_url": base_url, "batch_id": small}
            measure(results.small, spec, baselines)
            spec = {"case": "read/collect", "base_url": base_url, "batch_id": big}
            measure(results.collect, spec, baselines)
        passes = min(STEP_PASSES, options.repeats)
        log(f"read: step by step, {passes} pass(es)")
        spec = {"case": "read/steps", "base_url": base_url, "batch_id": big}
        results.steps, results.steps_note = _steps(
            {**spec, "count": options.size, "passes": passes}
        )
        load = run_load(options, base_url, big)
    return results, load


def _outcomes(size: int) -> dict[str, int]:
    counts = dict.fromkeys(("succeeded", "errored", "expired"), 0)
    for index in range(size):
        counts[outcome(index)] += 1
    return counts


def _steps(spec: dict[str, Any], env: dict[str, str] | None = None) -> tuple[list[StepRow], str]:
    try:
        measured = spawn(spec, env=env)
    except (ChildError, subprocess.TimeoutExpired) as exc:
        return [], f"failed: {exc}"
    return [StepRow(row["name"], row["seconds"], row["note"]) for row in measured["steps"]], ""


def run_load(options: Options, base_url: str, batch_id: str) -> LoadResults:
    """Persist the read batch's results as the Prefect layer does (setup, untimed), then load
    them with `load_batch_results` and with a raw read of the same file."""
    results = LoadResults(options.size, loaders={c.key: _row(c, options.size) for c in LOADERS})
    with tempfile.TemporaryDirectory(prefix="bench-persisted-") as folder:
        env = prefect_env(str(Path(folder) / "prefect-home"))
        storage = str(Path(folder) / "storage")
        log(f"load: persisting {options.size} results")
        try:
            setup = spawn(
                {"case": "persist", "base_url": base_url, "batch_id": batch_id, "storage": storage},
                env=env,
            )
        except (ChildError, subprocess.TimeoutExpired) as exc:
            results.note = f"failed: {exc}"
            for row in results.loaders.values():
                row.note = row.note or results.note
            return results
        results.record_bytes = setup["record_bytes"]
        spec = {"storage": storage, "scope": SCOPE, "record": setup["record"]}
        baselines: dict[str, int] = {}
        for repeat in range(options.repeats):
            log(f"load: repeat {repeat + 1}/{options.repeats}")
            for case in LOADERS:
                row = results.loaders[case.key]
                measure(row, {**spec, "case": f"load/{case.key}"}, baselines, env=env)
        passes = min(STEP_PASSES, options.repeats)
        log(f"load: step by step, {passes} pass(es)")
        steps_spec = {"case": "load/steps", "count": options.size, "passes": passes}
        results.steps, results.steps_note = _steps({**spec, **steps_spec}, env)
    return results


def prefect_env(home: str) -> dict[str, str]:
    """This environment without PREFECT_ settings, with a fresh PREFECT_HOME."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    env |= {
        "PREFECT_HOME": home,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    }
    return env


def run_submit(options: Options, baselines: dict[str, int] | None = None) -> SubmitResults:
    """Submit the same requests with every submitter, each to a fresh emulator."""
    from batchwork_prefect.emulator import Emulator

    cases = (*SUBMITTERS, POST_ONLY)
    results = SubmitResults(options.size, {c.key: _row(c, options.size) for c in cases})
    baselines = {} if baselines is None else baselines
    for repeat in range(options.repeats):
        log(f"submit: repeat {repeat + 1}/{options.repeats}")
        for case in cases:
            row = results.submitters[case.key]
            with Emulator() as emulator:
                spec = {"case": f"submit/{case.key}", "base_url": emulator.base_url}
                measure(row, {**spec, "size": options.size}, baselines)
                if not row.note and emulator.batches_created != 1:
                    row.note = f"failed: {emulator.batches_created} batches created, expected 1"
    return results


def run_openai(options: Options, baselines: dict[str, int] | None = None) -> OpenAIResults:
    """The OpenAI rows at `openai_workloads.size(options.size)`: read one ended batch with
    every reader, then submit the same requests with every submitter, each to a fresh
    emulator (checked afterwards to hold one batch of every request).

    `baselines` may hold the Anthropic rows' baselines: a baseline child imports the case's
    modules and builds its prompts, whichever provider the case then talks to, so a case
    with the same modules and size reuses it (the OpenAI provider loads on first use, after
    the baseline stops)."""
    from batchwork_prefect.emulator import Emulator

    size = openai_workloads.size(options.size)
    results = OpenAIResults(
        size,
        readers={case.key: _row(case, size) for case in OPENAI_READERS},
        submitters={case.key: _row(case, size) for case in (*OPENAI_SUBMITTERS, UPLOAD_ONLY)},
        outcomes=_openai_outcomes(size),
    )
    with Emulator(reply_content=openai_workloads.reply_content) as emulator:
        base_url, batch_id = emulator.openai_base_url, ""
        baselines = {} if baselines is None else baselines
        log(f"openai: creating a batch of {size} results")
        try:
            batch_id = openai_workloads.create_batch(base_url, size)
            results.output_bytes, results.error_bytes = openai_workloads.warm_results(
                base_url, batch_id
            )
        except Exception as exc:  # the setup failed: every row says why
            results.note = f"failed: {str(exc)[:300]}"
            for row in results.readers.values():
                row.note = row.note or results.note
        for repeat in range(options.repeats):
            log(f"openai read: repeat {repeat + 1}/{options.repeats}")
            for case in OPENAI_READERS:
                spec = {"case": f"openai/read/{case.key}", "base_url": base_url}
                measure(results.readers[case.key], {**spec, "batch_id": batch_id}, baselines)
    for repeat in range(options.repeats):
        log(f"openai submit: repeat {repeat + 1}/{options.repeats}")
        for case in (*OPENAI_SUBMITTERS, UPLOAD_ONLY):
            row = results.submitters[case.key]
            with Emulator() as emulator:
                spec = {"case": f"openai/submit/{case.key}", "base_url": emulator.openai_base_url}
                measure(row, {**spec, "size": size}, baselines)
                if row.note:
                    continue
                held = openai_workloads.created_requests(emulator.openai_base_url)
                if emulator.batches_created != 1 or held != size:
                    row.note = (
                        f"failed: {emulator.batches_created} batches created holding {held} "
                        f"requests, expected 1 of {size}"
                    )
    return results


def _openai_outcomes(size: int) -> dict[str, int]:
    counts = dict.fromkeys(("succeeded", "errored", "expired", "tool_calls"), 0)
    for index, prompt in enumerate(openai_workloads.read_prompts(size)):
        ended = outcome(index)
        counts[ended] += 1
        params = {"messages": [{"role": "user", "content": prompt}]}
        if ended == "succeeded" and openai_workloads.is_tool_call(params):
            counts["tool_calls"] += 1
    return counts


def run_orchestration(options: Options) -> OrchestrationResults:
    """The flow vs the core on the same batch, in one child with a fresh PREFECT_HOME."""
    from batchwork_prefect.emulator import Emulator

    requests = min(ORCHESTRATION_REQUESTS, options.size)
    results = OrchestrationResults(requests)
    log(f"orchestration: warm-up + {options.repeats} flow runs and core runs")
    with tempfile.TemporaryDirectory(prefix="bench-prefect-home-") as home, Emulator() as emulator:
        env = prefect_env(home)
        spec = {
            "case": "orchestration",
            "base_url": emulator.base_url,
            "requests": requests,
            "repeats": options.repeats,
        }
        try:
            measured = spawn(spec, env=env)
        except (ChildError, subprocess.TimeoutExpired) as exc:
            results.note = f"failed: {exc}"
            return results
    results.warmup, results.flow, results.core = (
        measured["warmup"],
        measured["flow"],
        measured["core"],
    )
    results.empty = measured.get("empty", [])
    results.core_in_flow = measured.get("core_in_flow", [])
    results.empty_short_heartbeat_sleep = measured.get("empty_short_heartbeat_sleep", [])
    return results


def run_polling(options: Options) -> PollingResults:
    """Retrieve calls and lateness over a one-hour batch, in emulated time (no sleeping)."""
    results = PollingResults(POLL_BATCH_SECONDS)
    log("polling: adaptive wait() vs a fixed 15 s poller over an emulated hour")
    for _ in range(options.repeats):
        results.adaptive.append(_poll_once(adaptive=True))
        results.fixed.append(_poll_once(adaptive=False))
    return results


def _poll_once(*, adaptive: bool) -> tuple[int, float]:
    """(retrieve calls made while waiting, seconds between the batch's end and noticing it)."""
    from batchwork_prefect import batch
    from batchwork_prefect.emulator import Emulator

    requests = [{"custom_id": f"poll-{i}", "prompt": "Say hi."} for i in range(10)]
    with Emulator(processing_seconds=POLL_BATCH_SECONDS, time_scale=0) as emulator:
        job = batch(
            f"anthropic/{MODEL}",
            requests,
            {"max_tokens": 16},
            api_key=API_KEY,
            base_url=emulator.base_url,
        )
        with job:
            ends_at = emulator.now() + POLL_BATCH_SECONDS  # time stands still but for advance()
            before = emulator.calls["retrieve"]
            if adaptive:
                job.wait(sleep=emulator.advance, clock=emulator.now)
            else:
                _fixed_wait(job.poll, emulator.advance)
            calls = emulator.calls["retrieve"] - before
            return calls, emulator.now() - ends_at


def _fixed_wait(poll: Callable[[], Any], sleep: Callable[[float], None]) -> None:
    """The same loop as `wait()`, with a constant 15 s between polls."""
    snapshot = poll()
    while not snapshot.status.is_terminal:
        sleep(FIXED_POLL_SECONDS)
        snapshot = poll()


def run_imports(options: Options) -> ImportResults:
    """Fresh processes timing each import statement, round-robin, 2 x repeats + 1 times
    (after one untimed round, which writes any missing bytecode caches); then the core's
    import step by step."""
    results = ImportResults(seconds={statement: [] for statement in STATEMENTS})
    rounds = 2 * options.repeats + 1
    log(f"import: {rounds} fresh processes per statement")
    try:
        for round_ in range(rounds + 1):
            for statement in STATEMENTS:
                seconds = timed_import(statement, ROOT)
                if round_:
                    results.seconds[statement].append(seconds)
        results.steps = import_steps(ROOT)
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        results.note = f"failed: {str(exc)[:300]}"
    return results


SMOKE_RELEASE = (
    "not run in --smoke (it needs a Prefect server, a worker, pollers and minutes of real "
    "time; `python -m bench --only release` runs it)"
)


def run_release_section(options: Options) -> ReleaseResults:
    """The release section (a real server, worker and pollers): its batch and poller window
    shortened by --quick; not run by --smoke, but for a short functional check with
    `--only release --smoke`."""
    if options.smoke and options.only != "release":
        return ReleaseResults(BATCH_SECONDS, note=SMOKE_RELEASE)
    if options.smoke:
        return run_release(SMOKE_BATCH_SECONDS, SMOKE_WINDOW_SECONDS, log)
    if options.quick:
        return run_release(QUICK_BATCH_SECONDS, QUICK_WINDOW_SECONDS, log)
    return run_release(BATCH_SECONDS, WINDOW_SECONDS, log)


def run_rounds_section(options: Options) -> RoundsResults:
    """The retry-round rows; a smoke run skips their warm-up child (it only checks they
    run)."""
    return run_rounds(options.size, options.repeats, warm_up=not options.smoke)


def run_async_flow_section(options: Options) -> AsyncFlowResults:
    """The sync vs async flow rows: left out of a whole smoke run (fresh children with a
    Prefect server each); `--only async --smoke` runs them, without the warm-up child."""
    if options.smoke and options.only != "async":
        return AsyncFlowResults(ASYNC_FLOW_REQUESTS, note="not run in --smoke (--only async)")
    return run_async_flow(options.repeats, warm_up=not options.smoke)


def not_run(
    options: Options,
    openai: OpenAIResults | None,
    seconds: float,
    release: ReleaseResults | None = None,
    rounds: RoundsResults | None = None,
    typed: TypedResults | None = None,
    async_flow: AsyncFlowResults | None = None,
) -> SuiteResults:
    """The results of a run of the `--only` rows alone: every other case says it did not
    run."""
    note = f"not run (--only {options.only})"

    def rows(cases: Sequence[Case], size: int) -> dict[str, Measured]:
        return {case.key: Measured(case.label, size, note=note) for case in cases}

    size = options.size
    read = ReadResults(
        size=size,
        small_size=max(1, size // 5),
        jsonl_bytes=0,
        small_jsonl_bytes=0,
        readers=rows(READERS, size),
        small=Measured(READERS[0].label, max(1, size // 5), note=note),
        collect=Measured(COLLECT.label, size, note=note),
        steps_note=note,
    )
    load = LoadResults(size, loaders=rows(LOADERS, size), steps_note=note, note=note)
    submit = SubmitResults(size, rows((*SUBMITTERS, POST_ONLY), size))
    if openai is None:
        openai_size = openai_workloads.size(size)
        openai = OpenAIResults(
            openai_size,
            readers=rows(OPENAI_READERS, openai_size),
            submitters=rows((*OPENAI_SUBMITTERS, UPLOAD_ONLY), openai_size),
            note=note,
        )
    imports = ImportResults(seconds={}, note=note)
    orchestration = OrchestrationResults(min(ORCHESTRATION_REQUESTS, size), note=note)
    polling = PollingResults(POLL_BATCH_SECONDS, note=note)
    if release is None:
        release = ReleaseResults(BATCH_SECONDS, note=note)
    if rounds is None:
        rounds = RoundsResults(min(ROUNDS_REQUESTS, size), note=note)
    if typed is None:
        typed = TypedResults(size, note=note)
    if async_flow is None:
        async_flow = AsyncFlowResults(ASYNC_FLOW_REQUESTS, note=note)
    return SuiteResults(
        options,
        read,
        load,
        submit,
        openai,
        imports,
        orchestration,
        polling,
        seconds,
        release,
        rounds,
        typed,
        async_flow,
    )


def run_suite(options: Options) -> SuiteResults:
    """Every case, in order: read (and load), submit, OpenAI, import, orchestration, retry
    rounds, sync vs async flow, polling, release, typed results (or, with `only`, the OpenAI
    rows, the release section, the retry rounds, the sync vs async flow rows or the typed
    results alone)."""
    started = time.perf_counter()
    # An installed package has its bytecode compiled (pip does it); a checkout run with
    # PYTHONDONTWRITEBYTECODE would compile every module in every timed child instead.
    compileall.compile_dir(ROOT / "batchwork_prefect", quiet=1)
    if options.only == "openai":
        openai = run_openai(options)
        return not_run(options, openai, time.perf_counter() - started)
    if options.only == "release":
        release = run_release_section(options)
        return not_run(options, None, time.perf_counter() - started, release)
    if options.only == "rounds":
        rounds = run_rounds_section(options)
        return not_run(options, None, time.perf_counter() - started, rounds=rounds)
    if options.only == "async":
        async_flow = run_async_flow_section(options)
        return not_run(options, None, time.perf_counter() - started, async_flow=async_flow)
    if options.only == "typed":
        typed = run_typed(options)
        return not_run(options, None, time.perf_counter() - started, typed=typed)
    if options.only == "gemini":
        from bench.gemini_suite import run_gemini

        gemini = run_gemini(options)
        done = not_run(options, None, time.perf_counter() - started)
        done.gemini = gemini
        return done
    orchestrated: list[OrchestrationResults] = []
    alongside = threading.Thread(target=lambda: orchestrated.append(run_orchestration(options)))
    retried: list[RoundsResults] = []
    rounds_alongside = threading.Thread(target=lambda: retried.append(run_rounds_section(options)))
    if options.smoke:
        alongside.start()
        rounds_alongside.start()
    baselines: dict[str, int] = {}
    read, load = run_read_and_load(options, baselines)
    submit = run_submit(options, baselines)
    openai = run_openai(options, baselines)
    from bench.gemini_suite import run_gemini

    gemini = run_gemini(options, baselines)
    imports = run_imports(options)
    if options.smoke:
        alongside.join()
        rounds_alongside.join()
        orchestration, rounds = orchestrated[0], retried[0]
    else:
        orchestration = run_orchestration(options)
        rounds = run_rounds_section(options)
    async_flow = run_async_flow_section(options)
    polling = run_polling(options)
    release = run_release_section(options)
    typed = run_typed(options, baselines)
    results = SuiteResults(
        options,
        read,
        load,
        submit,
        openai,
        imports,
        orchestration,
        polling,
        time.perf_counter() - started,
        release,
        rounds,
        typed,
        async_flow,
    )
    results.gemini = gemini
    return results
