"""The Anthropic read, load and submit sections: their results types and runners."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.cases import COLLECT, LOADERS, POST_ONLY, READERS, SUBMITTERS
from bench.children import (
    ChildError,
    Measured,
    Options,
    StepRow,
    case_row,
    log,
    measure,
    prefect_env,
    spawn,
    step_rows,
)
from bench.persisted import SCOPE
from bench.workloads import create_batch, outcome, reply_content, reply_usage, warm_results

STEP_PASSES = 2
"""Passes of each step-by-step table (fewer than the repeats when there are more: a full
pass over 100,000 results is long, and the steps explain the peer tables, not replace them)."""


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
            readers={case.key: case_row(case, options.size) for case in READERS},
            small=case_row(READERS[0], small_size),
            collect=case_row(COLLECT, options.size),
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
        results.steps, results.steps_note = step_rows(
            {**spec, "count": options.size, "passes": passes}
        )
        load = run_load(options, base_url, big)
    return results, load


def _outcomes(size: int) -> dict[str, int]:
    counts = dict.fromkeys(("succeeded", "errored", "expired"), 0)
    for index in range(size):
        counts[outcome(index)] += 1
    return counts


def run_load(options: Options, base_url: str, batch_id: str) -> LoadResults:
    """Persist the read batch's results as the Prefect layer does (setup, untimed), then load
    them with `load_batch_results` and with a raw read of the same file."""
    results = LoadResults(options.size, loaders={c.key: case_row(c, options.size) for c in LOADERS})
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
        results.steps, results.steps_note = step_rows({**spec, **steps_spec}, env)
    return results


def run_submit(options: Options, baselines: dict[str, int] | None = None) -> SubmitResults:
    """Submit the same requests with every submitter, each to a fresh emulator."""
    from batchwork_prefect.emulator import Emulator

    cases = (*SUBMITTERS, POST_ONLY)
    results = SubmitResults(options.size, {c.key: case_row(c, options.size) for c in cases})
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
