"""What importing the core costs: timed fresh processes, and `python -X importtime` by step.

Each timed child runs `python -c` with a clock started before its one import statement and
stopped after it (the interpreter's own start-up is left out, alike for both statements).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bench.children import ROOT, Options, log

CORE = "from batchwork_prefect import batch"
FLOOR = "import httpx, orjson"
STATEMENTS = (CORE, FLOOR)
_TIMED = "import time; started = time.perf_counter(); {}; print(time.perf_counter() - started)"

PYDANTIC = frozenset({"pydantic", "pydantic_core", "annotated_types", "typing_inspection"})
HTTPX_CLI = "httpx._main"
STEPS = (
    "httpx's command-line module `httpx._main` (it imports click, rich and pygments when they "
    "are installed)",
    "httpx without `httpx._main` (httpcore, h11, ssl, certifi, ...)",
    "pydantic (pydantic, pydantic_core, annotated_types, ...)",
    "`batchwork_prefect.models` and what it imports first, pydantic aside (its classes and "
    "their pydantic schemas)",
    "the other batchwork_prefect modules and what they import first (orjson, the standard library)",
)


@dataclass
class ImportResults:
    seconds: dict[str, list[float]] = field(default_factory=dict)
    """Per statement, the seconds of each fresh process."""
    steps: list[tuple[str, float]] = field(default_factory=list)
    """(step, seconds as `-X importtime` reports them) for the core import."""
    note: str = ""


def timed_import(statement: str, root: Path) -> float:
    """Seconds `statement` takes in a fresh interpreter."""
    completed = subprocess.run(
        [sys.executable, "-c", _TIMED.format(statement)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(completed.stdout.strip().splitlines()[-1])


def import_steps(root: Path, statement: str = CORE) -> list[tuple[str, float]]:
    """`python -X importtime -c statement`, each module's own time summed by step."""
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return group_importtime(completed.stderr)


def group_importtime(report: str) -> list[tuple[str, float]]:
    """(step, seconds) from `-X importtime` output: each module's own ("self") time goes to
    the step of the nearest module, itself or one that imported it, that names one."""
    # -X importtime prints a module after the modules it imported, each indented two spaces
    # per level: read backwards, every module comes before the modules it imported.
    rows: list[tuple[int, str, int]] = []
    for line in report.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line[len("import time:") :].split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header
        name = fields[2].rstrip()
        depth = (len(name) - len(name.lstrip(" "))) // 2
        rows.append((depth, name.strip(), int(fields[0])))
    totals = dict.fromkeys(STEPS, 0.0)
    enclosing: list[str] = []  # the step of each enclosing module, by depth
    for depth, name, self_us in reversed(rows):
        del enclosing[depth:]
        step = _step_of(name) or (enclosing[-1] if enclosing else "")
        enclosing.append(step)
        totals[step or STEPS[-1]] += self_us / 1e6
    return list(totals.items())


def _step_of(module: str) -> str:
    if module == HTTPX_CLI:
        return STEPS[0]
    top = module.split(".", 1)[0]
    if top in PYDANTIC:
        return STEPS[2]
    if top == "httpx":
        return STEPS[1]
    if module == "batchwork_prefect.models":
        return STEPS[3]
    return ""


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
