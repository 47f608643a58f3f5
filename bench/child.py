"""A measured child process: `python -m bench.child SPEC_JSON OUTPUT_PATH [MODULES]`.

The clock starts with this module's first statement; the next thing the child does is
import MODULES (comma-separated: the case's own), before anything of the bench's own, so
nothing the case needs is imported early. Then it builds the case's inputs (not counted) and
(unless SPEC says `baseline`) runs the case and writes, as JSON to OUTPUT_PATH:
`{"seconds", "fresh_seconds", "import_seconds", "count", "peak_rss"}`: the run alone (in
process, import excluded), the import and the run (a fresh process as users start one; only
the interpreter's own start-up is left out, alike for every case), the import alone, the
results read or requests submitted, and the peak RSS.
"""
# ruff: noqa: E402

from __future__ import annotations

import time

STARTED = time.perf_counter()

import importlib
import sys

if __name__ == "__main__" and len(sys.argv) > 3:
    for _module in sys.argv[3].split(","):
        importlib.import_module(_module)
IMPORTED = time.perf_counter()

import gc
import json
import resource
from pathlib import Path
from typing import Any


def peak_rss() -> int:
    """This process's peak resident set size in bytes.

    Linux's VmHWM (from /proc/self/status) starts afresh at exec. `ru_maxrss` does not: the
    kernel carries the high-water mark of the forked parent over into the exec'd child, so a
    child of a 600 MB parent reports at least 600 MB whatever it does. `ru_maxrss` is the
    fallback where there is no /proc.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


def run(spec: dict[str, Any], modules: str = "") -> dict[str, Any]:
    """Run the case SPEC names and return what was measured; `modules` is what was imported
    first (MODULES)."""
    if spec["case"] == "orchestration":
        from bench.orchestration import measure

        return measure(spec)
    if spec["case"] == "rounds":
        from bench.rounds import measure as measure_rounds

        return measure_rounds(spec, STARTED, IMPORTED)
    if spec["case"] == "async_flow":
        from bench.async_flow import measure as measure_async_flow

        return measure_async_flow(spec, STARTED, IMPORTED)
    if spec["case"] == "persist":
        from bench.persisted import persist

        return persist(spec)
    if spec["case"] in ("read/steps", "load/steps"):
        from bench.steps import measure_steps

        return measure_steps(spec)

    from bench.cases import CASES, Job
    from bench.gemini_cases import CASES as GEMINI_CASES
    from bench.mistral_cases import CASES as MISTRAL_CASES
    from bench.openai_cases import CASES as OPENAI_CASES
    from bench.together_cases import CASES as TOGETHER_CASES
    from bench.typed import CASES as TYPED_CASES
    from bench.workloads import prompts
    from bench.xai_cases import CASES as XAI_CASES

    cases = {**CASES, **OPENAI_CASES, **TYPED_CASES, **TOGETHER_CASES, **MISTRAL_CASES, **XAI_CASES}
    cases |= GEMINI_CASES
    case = cases[spec["case"]]
    if modules != ",".join(case.modules):
        raise ValueError(f"MODULES must be the case's: {','.join(case.modules)}")
    job = Job(
        base_url=spec.get("base_url", ""),
        batch_id=spec.get("batch_id", ""),
        prompts=tuple(prompts(spec["size"])) if "submit/" in spec["case"] else (),
        storage=spec.get("storage", ""),
        scope=spec.get("scope", ""),
        record=spec.get("record", ""),
    )
    if case.prepare is not None:
        job = case.prepare(job)
    if spec.get("baseline"):
        return {"peak_rss": peak_rss()}
    gc.collect()
    started = time.perf_counter()
    count = case.run(job)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "fresh_seconds": IMPORTED - STARTED + seconds,
        "import_seconds": IMPORTED - STARTED,
        "count": count,
        "peak_rss": peak_rss(),
    }


def main(argv: list[str]) -> int:
    spec, output = json.loads(argv[0]), Path(argv[1])
    modules = argv[2] if len(argv) > 2 else ""
    output.write_text(json.dumps(run(spec, modules)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
