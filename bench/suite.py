"""Runs every section in order and gathers their results (`SuiteResults`).

Timed work happens in fresh child processes (`bench.child`), so a child's peak RSS is its own
and the emulator's memory is not counted; each child gives a fresh-process time (the case's
import included) and an in-process time (the run alone). Repeats go round-robin over the
peers, so a drift in the machine's speed touches every peer alike. The shared types and
`spawn`/`measure` are in `bench.children`; each section's results type and runner in its own
module (`bench.anthropic_suite`, `bench.openai_suite`, `bench.flow_suite`, `bench.imports`,
`bench.rounds`, `bench.async_flow`, `bench.release`, `bench.typed`).
"""

from __future__ import annotations

import compileall
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bench import openai_workloads
from bench.anthropic_suite import (
    LoadResults,
    ReadResults,
    SubmitResults,
    run_load,
    run_read_and_load,
    run_submit,
)
from bench.async_flow import REQUESTS as ASYNC_FLOW_REQUESTS
from bench.async_flow import AsyncFlowResults, run_async_flow
from bench.cases import COLLECT, LOADERS, POST_ONLY, READERS, SUBMITTERS, Case
from bench.children import (
    ROOT,
    ChildError,
    Measured,
    Options,
    StepRow,
    log,
    measure,
    prefect_env,
    spawn,
)
from bench.flow_suite import (
    FIXED_POLL_SECONDS,
    ORCHESTRATION_REQUESTS,
    POLL_BATCH_SECONDS,
    OrchestrationResults,
    PollingResults,
    run_orchestration,
    run_polling,
)
from bench.gemini_suite import GeminiResults, run_gemini
from bench.imports import ImportResults, run_imports
from bench.mistral_suite import MISTRAL_NOT_RUN, run_mistral
from bench.openai_cases import READERS as OPENAI_READERS
from bench.openai_cases import SUBMITTERS as OPENAI_SUBMITTERS
from bench.openai_cases import UPLOAD_ONLY
from bench.openai_suite import OpenAIResults, run_openai
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
from bench.together_suite import TogetherResults, run_together
from bench.typed_suite import TypedResults, run_typed
from bench.xai_suite import XAIResults, run_xai

__all__ = [  # the names tests and `bench.__main__` import from here
    "FIXED_POLL_SECONDS",
    "ROOT",
    "ChildError",
    "LoadResults",
    "Measured",
    "OpenAIResults",
    "Options",
    "OrchestrationResults",
    "PollingResults",
    "ReadResults",
    "StepRow",
    "SubmitResults",
    "SuiteResults",
    "TogetherResults",
    "XAIResults",
    "log",
    "measure",
    "not_run",
    "prefect_env",
    "run_async_flow_section",
    "run_imports",
    "run_load",
    "run_openai",
    "run_orchestration",
    "run_polling",
    "run_read_and_load",
    "run_release_section",
    "run_rounds_section",
    "run_submit",
    "run_suite",
    "run_xai",
    "spawn",
]


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
    together: TogetherResults = field(
        default_factory=lambda: TogetherResults(0, {}, note="not run")
    )
    xai: XAIResults = field(default_factory=lambda: XAIResults(0, {}, note="not run"))
    gemini: GeminiResults = field(default_factory=lambda: GeminiResults(0, {}, {}, note="not run"))
    mistral: dict[str, Any] = field(default_factory=lambda: dict(MISTRAL_NOT_RUN))


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
        together=TogetherResults(size, {}, note=note),
        xai=XAIResults(size, {}, note=note),
        gemini=GeminiResults(size, {}, {}, note=note),
        mistral={**MISTRAL_NOT_RUN, "size": size, "note": note},
    )


def run_suite(options: Options) -> SuiteResults:
    """Every case, in order: read (and load), submit, OpenAI, import, orchestration, retry
    rounds, sync vs async flow, polling, release, typed results, Together, xAI, Gemini and
    Mistral (or, with `only`, the OpenAI rows, the release section, the retry rounds, the
    sync vs async flow rows, the typed results, Together or xAI alone; `--only gemini` and
    `--only mistral` write their own short reports, `bench.__main__`)."""
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
    if options.only == "xai":
        xai = run_xai(options)
        return replace(not_run(options, None, time.perf_counter() - started), xai=xai)
    if options.only == "together":
        together = run_together(options)
        return replace(not_run(options, None, time.perf_counter() - started), together=together)
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
    together = run_together(options, baselines)
    xai = run_xai(options, baselines)
    gemini = run_gemini(options.size, options.repeats)
    mistral = run_mistral(options.size, options.repeats)
    return SuiteResults(
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
        together,
        xai,
        gemini,
        mistral,
    )
