"""A retry round's cost: a two-round `run_batch` flow run against the same batch in one round.

The same realistic batch (the read case's prompts, the workload's replies) goes through a
`run_batch` flow run from a requests file, as users pass a batch over Prefect's parameter
limit: once with no marker (one round), once with `RETRIED_SHARE` of its requests carrying
the emulator's `[[emulate:errored:overloaded_error:x1]]` marker, which errs on a request's
first submission and succeeds on the next, so the run takes exactly two rounds. A core
`batch()` -> `wait()` -> `collect()` of the unmarked batch splits the one-round run into the
core's work and its orchestration part.

Each kind runs in its own fresh child per repeat (`python -m bench.child`), round-robin; the
flow children share one Prefect home, made by an untimed warm-up child, so each pays what a
user's script pays: the import, the embedded server's start-up and the run. Each child then
runs the same kind again in process (fresh custom_ids), timed alone: the per-batch cost.
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

ROUNDS_REQUESTS = 3000
"""The batch's size in a full run (`--size` caps it)."""
RETRIED = frozenset({7, 47, 87})
"""Requests whose index modulo 100 is here carry the x1 overload marker (3%)."""
RETRIED_SHARE = len(RETRIED) / 100
MARKER = " [[emulate:errored:overloaded_error:x1]]"
PROCESSING_SECONDS = 0.0
"""The emulator's processing time for every batch, the second round's too: the provider's
time for that round, which the goal's limit adds."""
POLL_INTERVAL = 0.05
KINDS = ("one", "two", "core")
"""One round (no marker), two rounds (the x1 markers), and the core on the unmarked batch."""


@dataclass
class RoundsResults:
    """The samples of each kind: a fresh process (import, server start-up, the first run)
    and in process (a second run in the same child)."""

    requests: int
    fresh: dict[str, list[float]] = field(default_factory=dict)
    in_process: dict[str, list[float]] = field(default_factory=dict)
    retried: int = 0
    """Requests sent again in the second round."""
    warmup: float = 0.0
    """The untimed warm-up child (it makes the Prefect home's database)."""
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.note and all(self.fresh.get(kind) for kind in KINDS)

    def median_fresh(self, kind: str) -> float:
        return statistics.median(self.fresh[kind])

    def median_in_process(self, kind: str) -> float:
        return statistics.median(self.in_process[kind])


def retried_count(requests: int) -> int:
    return sum(index % 100 in RETRIED for index in range(requests))


def requests_lines(count: int, *, marked: bool, prefix: str) -> list[dict[str, str]]:
    """The batch's requests, each custom_id under `prefix` (the emulator counts a marker's
    submissions per custom_id, so every run of a child takes its own)."""
    made = []
    for index, text in enumerate(prompts(count)):
        if marked and index % 100 in RETRIED:
            text += MARKER
        made.append({"custom_id": f"{prefix}-{custom_id(index)}", "prompt": text})
    return made


# the child ---------------------------------------------------------------------------------


def measure(spec: dict[str, Any], started: float, imported: float) -> dict[str, Any]:
    """In a child: the kind's first run (its fresh-process time adds the import, `imported -
    started`) and a second run in process; checks every result as the kind must end."""
    kind: str = spec["kind"]
    count: int = spec["requests"]
    run = _flow_run if kind in ("one", "two") else _core_run
    seconds = []
    for prefix in ("a", "b"):
        lines = requests_lines(count, marked=kind == "two", prefix=prefix)
        began = time.perf_counter()
        attempts = run(spec, lines, prefix)
        seconds.append(time.perf_counter() - began)
        expected = retried_count(count) if kind == "two" else 0
        if attempts != (count, expected):
            raise RuntimeError(
                f"{kind}: read (results, retried) {attempts}, expected {(count, expected)}"
            )
    return {
        "fresh_seconds": imported - started + seconds[0],
        "seconds": seconds[1],
        "import_seconds": imported - started,
    }


def _flow_run(spec: dict[str, Any], lines: list[dict[str, str]], prefix: str) -> tuple[int, int]:
    import orjson

    from batchwork_prefect import AnthropicCredentials, run_batch

    path = Path(spec["folder"]) / f"{spec['kind']}-{prefix}.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    results = run_batch(
        model=f"anthropic/{MODEL}",
        requests_path=str(path),
        defaults={"max_tokens": MAX_TOKENS},
        credentials=AnthropicCredentials(api_key=API_KEY, base_url=spec["base_url"]),
        poll_interval=POLL_INTERVAL,
    )
    return _consume(results)


def _core_run(spec: dict[str, Any], lines: list[dict[str, str]], prefix: str) -> tuple[int, int]:
    from batchwork_prefect import batch

    model, base_url = f"anthropic/{MODEL}", spec["base_url"]
    with batch(model, lines, {"max_tokens": MAX_TOKENS}, api_key=API_KEY, base_url=base_url) as job:
        job.wait(poll_interval=POLL_INTERVAL)
        return _consume(job.collect())


def _consume(results: Any) -> tuple[int, int]:
    """Read what users read of every result (text, usage, attempts) and the batch's cost;
    (results that succeeded, results sent more than once)."""
    succeeded = retried = 0
    for result in results.results:
        if result.text and result.usage is not None and result.status.value == "succeeded":
            succeeded += 1
        retried += result.attempts > 1
    results.cost  # noqa: B018 - priced as users read it
    return succeeded, retried


# the parent --------------------------------------------------------------------------------


def run_rounds(size: int, repeats: int, *, warm_up: bool = True) -> RoundsResults:
    """Every kind in a fresh child per repeat, round-robin, each against its own emulator
    (checked afterwards to have made the batches the kind must make)."""
    # bench.suite imports this module for its results type; its child runner is taken late
    from batchwork_prefect.emulator import Emulator
    from bench.children import ChildError, log, prefect_env, spawn
    from bench.workloads import reply_content, reply_usage

    requests = min(ROUNDS_REQUESTS, size)
    results = RoundsResults(requests, retried=retried_count(requests))
    results.fresh = {kind: [] for kind in KINDS}
    results.in_process = {kind: [] for kind in KINDS}
    if results.retried == 0:
        results.note = f"not run: {requests} requests carry no marker (--size of at least 8)"
        return results
    batches = {"one": 2, "two": 4, "core": 2}  # two runs per child; a second round each
    with tempfile.TemporaryDirectory(prefix="bench-rounds-") as folder:
        env = prefect_env(str(Path(folder) / "prefect-home"))
        kinds = [("warm-up", "one")] if warm_up else []
        kinds += [(f"repeat {n + 1}", kind) for n in range(repeats) for kind in KINDS]
        for label, kind in kinds:
            log(f"rounds: {label}, {kind} ({requests} requests)")
            with Emulator(
                processing_seconds=PROCESSING_SECONDS,
                reply_content=reply_content,
                reply_usage=reply_usage,
            ) as emulator:
                spec = {"case": "rounds", "kind": kind, "requests": requests}
                spec |= {"base_url": emulator.base_url, "folder": folder}
                try:
                    measured = spawn(spec, env=env, modules=("batchwork_prefect",))
                except (ChildError, subprocess.TimeoutExpired) as exc:
                    results.note = f"failed: {exc}"
                    return results
                if emulator.batches_created != batches[kind]:
                    made = emulator.batches_created
                    results.note = f"failed: {kind} made {made} batches, not {batches[kind]}"
                    return results
            if label == "warm-up":
                results.warmup = measured["fresh_seconds"]
                continue
            results.fresh[kind].append(measured["fresh_seconds"])
            results.in_process[kind].append(measured["seconds"])
    return results
