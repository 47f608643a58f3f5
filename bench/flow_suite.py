"""The orchestration and polling sections: their results types and runners."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.children import ChildError, Options, log, prefect_env, spawn
from bench.workloads import API_KEY, MODEL

POLL_BATCH_SECONDS = 3600.0
FIXED_POLL_SECONDS = 15.0
ORCHESTRATION_REQUESTS = 1000


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
    empty_unjoined: list[float] = field(default_factory=list)
    """The empty flow run ending as `run_batch` runs do: without joining its heartbeat thread."""
    note: str = ""


@dataclass
class PollingResults:
    batch_seconds: float
    adaptive: list[tuple[int, float]] = field(default_factory=list)
    fixed: list[tuple[int, float]] = field(default_factory=list)
    note: str = ""


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
    results.empty_unjoined = measured.get("empty_unjoined", [])
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
