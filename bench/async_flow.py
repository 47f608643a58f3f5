"""A small `run_batch` in a sync flow against the same batch in an async flow (`arun_batch`).

Both parents run the same `run-batch` subflow; the async one awaits it off its event loop.
Prefect 3.9's sync flow engine joins a run's heartbeat thread as the run ends (that thread
sleeps in one-second steps), the async engine does not: the sync parent pays that, and the
`run-batch` subflow, which ends without the join either way, does not.

Each kind runs in its own fresh child per repeat (`python -m bench.child`), the two kinds in
turn, the first of each pair alternating; the children share one Prefect home, made by an
untimed warm-up child. A child times its first run (the import, the embedded server's
start-up and the run: a fresh process) and a second run in process. Each repeat's pair gives
a ratio (async / sync), and the table shows the medians of those paired ratios.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.workloads import API_KEY, MAX_TOKENS, MODEL, custom_id, prompts

REQUESTS = 10
"""A small batch: what is measured is the flows around it."""
POLL_INTERVAL = 0.05
KINDS = ("sync", "async")
LABELS = {
    "sync": "sync flow calling `run_batch(...)`",
    "async": "async flow awaiting `arun_batch(...)`",
}


@dataclass
class AsyncFlowResults:
    """The samples of each kind, repeat by repeat (index i of each list is one pair)."""

    requests: int
    fresh: dict[str, list[float]] = field(default_factory=dict)
    in_process: dict[str, list[float]] = field(default_factory=dict)
    warmup: float = 0.0
    """The untimed warm-up child (it makes the Prefect home's database)."""
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.note and all(self.fresh.get(kind) for kind in KINDS)

    def median(self, samples: dict[str, list[float]], kind: str) -> float:
        return statistics.median(samples[kind])

    def paired_ratio(self, samples: dict[str, list[float]]) -> float:
        """The median over repeats of async / sync, each repeat's two children a pair."""
        pairs = zip(samples["async"], samples["sync"], strict=True)
        return statistics.median(one / other for one, other in pairs)


# the child ---------------------------------------------------------------------------------


def measure(spec: dict[str, Any], started: float, imported: float) -> dict[str, Any]:
    """In a child: the kind's first run (its fresh-process time adds the import, `imported -
    started`) and a second run in process; each checked to read every result."""
    import asyncio

    from prefect import flow

    from batchwork_prefect import AnthropicCredentials, arun_batch, run_batch

    parameters = {
        "model": f"anthropic/{MODEL}",
        "defaults": {"max_tokens": MAX_TOKENS},
        "credentials": AnthropicCredentials(api_key=API_KEY, base_url=spec["base_url"]),
        "poll_interval": POLL_INTERVAL,
    }

    @flow(name="bench-sync-parent", persist_result=False)
    def sync_parent(requests: list[dict[str, str]]) -> int:
        return len(run_batch(requests=requests, **parameters).results)

    @flow(name="bench-async-parent", persist_result=False)
    async def async_parent(requests: list[dict[str, str]]) -> int:
        results = await arun_batch(requests=requests, **parameters)
        return len(results.results)

    seconds = []
    for prefix in ("a", "b"):
        requests = [
            {"custom_id": f"{prefix}-{custom_id(index)}", "prompt": text}
            for index, text in enumerate(prompts(spec["requests"]))
        ]
        began = time.perf_counter()
        if spec["kind"] == "sync":
            count = sync_parent(requests)
        else:
            count = asyncio.run(async_parent(requests))
        seconds.append(time.perf_counter() - began)
        if count != len(requests):
            raise RuntimeError(f"{spec['kind']}: read {count} results, not {len(requests)}")
    return {"fresh_seconds": imported - started + seconds[0], "seconds": seconds[1]}


# the parent --------------------------------------------------------------------------------


def run_async_flow(repeats: int, *, warm_up: bool = True) -> AsyncFlowResults:
    """Both kinds in fresh children per repeat, in turn, each against its own emulator
    (checked afterwards to have made the two batches a child makes)."""
    from batchwork_prefect.emulator import Emulator
    from bench.children import ChildError, log, prefect_env, spawn

    results = AsyncFlowResults(REQUESTS)
    results.fresh = {kind: [] for kind in KINDS}
    results.in_process = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory(prefix="bench-async-flow-") as folder:
        env = prefect_env(str(Path(folder) / "prefect-home"))
        children = [("warm-up", "sync")] if warm_up else []
        for repeat in range(repeats):
            pair = KINDS if repeat % 2 == 0 else KINDS[::-1]
            children += [(f"repeat {repeat + 1}", kind) for kind in pair]
        for label, kind in children:
            log(f"async flow: {label}, {kind} ({REQUESTS} requests)")
            with Emulator() as emulator:
                spec = {"case": "async_flow", "kind": kind, "requests": REQUESTS}
                spec["base_url"] = emulator.base_url
                try:
                    measured = spawn(spec, env=env, modules=("batchwork_prefect",))
                except (ChildError, subprocess.TimeoutExpired) as exc:
                    results.note = f"failed: {exc}"
                    return results
                if emulator.batches_created != 2:
                    made = emulator.batches_created
                    results.note = f"failed: {kind} made {made} batches, not 2"
                    return results
            if label == "warm-up":
                results.warmup = measured["fresh_seconds"]
                continue
            results.fresh[kind].append(measured["fresh_seconds"])
            results.in_process[kind].append(measured["seconds"])
    return results


def async_flow_table(result: AsyncFlowResults) -> str:
    """The section's table: each kind's medians and runs, then the paired ratios."""
    from bench.formatting import ratio, runs, secs, table

    if not result.ok:
        return f"Not measured: {result.note or 'no samples'}"
    rows = []
    for kind in KINDS:
        cells = [LABELS[kind], secs(result.median(result.fresh, kind)), runs(result.fresh[kind])]
        cells += [secs(result.median(result.in_process, kind)), runs(result.in_process[kind])]
        rows.append(cells)
    fresh, in_process = result.paired_ratio(result.fresh), result.paired_ratio(result.in_process)
    rows.append(["**async / sync** (median of paired ratios)", f"**{ratio(fresh)}**", ""])
    rows[-1] += [f"**{ratio(in_process)}**", ""]
    if result.warmup:
        rows.append(["warm-up child (makes the Prefect home, excluded)", secs(result.warmup)])
        rows[-1] += [""] * 3
    headers = ["Run", "Fresh process, median s", "Runs (s)", "In process, median s", "Runs (s)"]
    return table(headers, rows)
