"""A measured child process: `python -m bench.child SPEC_JSON OUTPUT_PATH`.

Imports the case's modules and builds its inputs, then (unless SPEC says `baseline`) times
the case and writes `{"seconds", "count", "peak_rss"}` as JSON to OUTPUT_PATH.
"""

from __future__ import annotations

import gc
import importlib
import json
import resource
import sys
import time
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


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the case SPEC names and return what was measured."""
    if spec["case"] == "orchestration":
        from bench.orchestration import measure

        return measure(spec)

    from bench.cases import CASES, Job
    from bench.workloads import prompts

    case = CASES[spec["case"]]
    for module in case.modules:
        importlib.import_module(module)
    _warm_httpx()
    job = Job(
        base_url=spec["base_url"],
        batch_id=spec.get("batch_id", ""),
        prompts=tuple(prompts(spec["size"])) if spec["case"].startswith("submit/") else (),
    )
    if case.prepare is not None:
        job = case.prepare(job)
    if spec.get("baseline"):
        return {"peak_rss": peak_rss()}
    gc.collect()
    started = time.perf_counter()
    count = case.run(job)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "count": count, "peak_rss": peak_rss()}


def _warm_httpx() -> None:
    """Pay the first HTTP client's one-off cost before the clock starts, for every peer alike.

    Every peer talks through httpx (the SDK through httpx2, which shares the expensive part):
    the first client of a process loads `ssl`, `certifi` and the CA bundle (~80 ms here, ~20 ms
    for later clients), a one-off the timings should charge to no peer.
    """
    import httpx

    httpx.Client().close()


def main(argv: list[str]) -> int:
    spec, output = json.loads(argv[0]), Path(argv[1])
    output.write_text(json.dumps(run(spec)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
