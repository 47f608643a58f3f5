"""What every section shares: run options, measured rows, `spawn` and `measure` (fresh children)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cases import CASES, Case
from bench.gemini_cases import CASES as GEMINI_CASES
from bench.mistral_cases import CASES as MISTRAL_CASES
from bench.openai_cases import CASES as OPENAI_CASES
from bench.together_cases import CASES as TOGETHER_CASES
from bench.typed import CASES as TYPED_CASES
from bench.xai_cases import CASES as XAI_CASES

ROOT = Path(__file__).resolve().parent.parent
ALL_CASES = {**CASES, **OPENAI_CASES, **TYPED_CASES, **TOGETHER_CASES, **MISTRAL_CASES, **XAI_CASES}
ALL_CASES |= GEMINI_CASES
CHILD_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Options:
    size: int
    repeats: int
    smoke: bool = False
    """A functional check, not a measurement: the orchestration case (most of it Prefect's
    server start-up) runs alongside the others, so no timing of the run is comparable."""
    only: str = ""
    """"async", "openai", "release", "rounds" or "typed": run those rows alone; every other case is
    reported as not run."""
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


def case_row(case: Case, expected: int) -> Measured:
    return Measured(case.label, expected, note="" if case.installed else "not installed")


def step_rows(spec: dict[str, Any], env: dict[str, str] | None = None) -> tuple[list[StepRow], str]:
    try:
        measured = spawn(spec, env=env)
    except (ChildError, subprocess.TimeoutExpired) as exc:
        return [], f"failed: {exc}"
    return [StepRow(row["name"], row["seconds"], row["note"]) for row in measured["steps"]], ""


def prefect_env(home: str) -> dict[str, str]:
    """A child's environment with a fresh PREFECT_HOME (harness's), no PREFECT_ setting of
    this one's, and 120 s for its embedded server to start."""
    from harness import prefect_env as fresh_home_env

    return fresh_home_env(home, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120")
