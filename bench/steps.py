"""Step-by-step timings of the read and load paths, in one child process (in process).

Each step is a whole pass over the same data, doing one more thing than the step before, so
the difference between two rows is what that thing costs. The steps call the library's own
module-level functions where they exist (`split_lines`, `parse_result_line`, `unseal`); a
step whose function this version of the library lacks, or calls differently, is reported as
not measured rather than guessed.
"""

from __future__ import annotations

import gc
import importlib
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from bench.cases import Job, _consume, load_project, load_raw, read_project, read_raw
from bench.workloads import HEADERS

Step = tuple[str, Callable[[], int | None]]
"""(what the pass does, the pass: how many results it read, None when it does not count)."""


def measure_steps(spec: dict[str, Any]) -> dict[str, Any]:
    """Every step of `spec["case"]` (`read/steps` or `load/steps`), `spec["passes"]` times,
    round-robin; `{"steps": [{"name", "seconds", "note"}]}`."""
    steps = _read_steps(spec) if spec["case"] == "read/steps" else _load_steps(spec)
    expected: int = spec["count"]
    rows: list[dict[str, Any]] = [{"name": name, "seconds": [], "note": ""} for name, _ in steps]
    for _ in range(spec["passes"]):
        for row, (_, step) in zip(rows, steps, strict=True):
            if row["note"]:
                continue
            gc.collect()
            started = time.perf_counter()
            try:
                count = step()
            except _Unavailable as exc:
                row["note"] = f"not measured: {exc}"
                continue
            seconds = time.perf_counter() - started
            if count is not None and count != expected:
                row["note"] = f"not measured: read {count} of {expected}"
                continue
            row["seconds"].append(seconds)
    return {"steps": rows}


class _Unavailable(Exception):
    """The library has no function for this step, or calls it differently."""


def _function(module: str, name: str) -> Callable[..., Any]:
    """`module.name`, looked up (and imported) before any pass is timed; if this version of
    the library has no such function, one that raises `_Unavailable` when its step runs."""
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        found = None
    if callable(found):
        return found  # type: ignore[no-any-return]

    def unavailable(*args: object) -> Any:
        raise _Unavailable(f"no {module}.{name} in this version")

    return unavailable


# reading ------------------------------------------------------------------------------------


def _read_steps(spec: dict[str, Any]) -> list[Step]:
    import httpx
    import orjson

    import batchwork_prefect  # noqa: F401  (imported before any pass is timed)

    job = Job(base_url=spec["base_url"], batch_id=spec["batch_id"])
    client = httpx.Client(headers=HEADERS, timeout=600)
    retrieved = client.get(f"{job.base_url}/v1/messages/batches/{job.batch_id}")
    url: str = retrieved.raise_for_status().json()["results_url"]
    module = "batchwork_prefect.providers.anthropic"
    split = _function("batchwork_prefect._http.jsonl", "split_lines")
    parse = _function(module, "parse_result_line")

    def lines() -> Iterator[bytes]:
        with client.stream("GET", url) as response:
            yield from split(response.iter_bytes())

    def parsed() -> Iterator[Any]:
        for line in lines():
            try:
                item = parse(line, job.batch_id)
            except TypeError as exc:
                raise _Unavailable(f"{module}.parse_result_line(line, batch_id): {exc}") from None
            if item is not None:
                yield item

    def split_only() -> int:
        return _count(lines())

    def decode() -> int:
        loads = orjson.loads
        return _count(loads(line) for line in lines())

    def parse_only() -> int:
        return _count(parsed())

    def parse_and_read() -> int:
        count = 0
        for result in parsed():
            _consume(result.status, result.text, result.usage)
            count += 1
        return count

    return [
        (
            "stream the body and split it into lines (httpx + the library's `split_lines`)",
            split_only,
        ),
        ("+ `orjson.loads` of each line", decode),
        (
            "+ the library's own parse of each line in place of `orjson.loads` "
            "(`parse_result_line`: decoding, checks, the result object)",
            parse_only,
        ),
        ("+ reading each result's status, text and usage", parse_and_read),
        (
            "the whole `job.results()` reading the same fields (+ its own HTTP client, the "
            "retrieve, resume bookkeeping, repeated-id and count audit)",
            lambda: read_project(job),
        ),
        (
            "for reference, the raw floor (its own HTTP client, the retrieve, stream, split, "
            "`orjson.loads`, the same fields)",
            lambda: read_raw(job),
        ),
    ]


# loading ------------------------------------------------------------------------------------


def _load_steps(spec: dict[str, Any]) -> list[Step]:
    import orjson

    from batchwork_prefect import BatchResults

    job = Job(storage=spec["storage"], scope=spec["scope"], record=spec["record"])
    path = Path(job.record)
    unseal = _function("batchwork_prefect.orchestration.sealing", "unseal")

    def sealed() -> bytes:
        blob: bytes = orjson.loads(path.read_bytes())["result"].encode()
        return blob

    def body() -> bytes:
        inner: bytes = unseal(sealed())
        return inner

    def results() -> Any:
        return BatchResults.model_validate_json(body())

    def read_bytes() -> None:
        path.read_bytes()

    def decode() -> None:
        sealed()

    def check() -> None:
        body()

    def validate() -> int:
        return len(results())

    def validate_and_read() -> int:
        count = 0
        for result in results().values():
            _consume(result.status, result.text, result.usage)
            count += 1
        return count

    return [
        ("read the record's bytes", read_bytes),
        ("+ `orjson.loads` of the record; its `result` string back to bytes", decode),
        ("+ the seal check (`unseal`: sha256 of the results JSON)", check),
        ("+ `BatchResults.model_validate_json`", validate),
        ("+ reading each result's status, text and usage", validate_and_read),
        (
            "the whole `load_batch_results(...)` reading the same fields (+ the pointer)",
            lambda: load_project(job),
        ),
        (
            "for reference, the raw floor (the same file, `orjson.loads` twice, the same fields)",
            lambda: load_raw(job),
        ),
    ]


def _count(items: Iterable[object]) -> int:
    return sum(1 for _ in items)
