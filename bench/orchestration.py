"""Orchestration overhead, measured in a child whose PREFECT_HOME is a fresh temporary folder.

One warm-up flow run starts Prefect's embedded server (a one-off, reported apart); then each
repeat times one `run_batch` flow run and one core `batch()` -> `wait()` -> `collect()` of the
same requests, alternately, against an emulator that ends batches at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.workloads import API_KEY, MAX_TOKENS, MODEL, custom_id, prompts

PROMPT_CHARS = 200
"""Prefect rejects flow-run parameters over 512 KiB serialized (HTTP 422), which 1,000 prompts
of 500 characters exceed; the orchestration batch uses 200-character prompts."""
POLL_INTERVAL = 0.05


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    from batchwork_prefect import AnthropicCredentials, batch, run_batch

    base_url: str = spec["base_url"]
    requests = [
        {"custom_id": custom_id(i), "prompt": text}
        for i, text in enumerate(prompts(spec["requests"], PROMPT_CHARS))
    ]
    credentials = AnthropicCredentials(api_key=API_KEY, base_url=base_url)
    model = f"anthropic/{MODEL}"
    defaults = {"max_tokens": MAX_TOKENS}

    def flow_once() -> int:
        results = run_batch(
            model=model,
            requests=requests,
            defaults=defaults,
            credentials=credentials,
            poll_interval=POLL_INTERVAL,
        )
        return len(results.results)

    def core_once() -> int:
        with batch(model, requests, defaults, api_key=API_KEY, base_url=base_url) as job:
            job.wait(poll_interval=POLL_INTERVAL)
            return len(job.collect().results)

    from prefect import flow as prefect_flow

    from batchwork_prefect.orchestration.scopes import RUN_BATCH_MARK

    # References for the overhead: what a flow run costs on this server (an empty flow,
    # ending as `run_batch` runs end and as Prefect's sync engine ends any other run), and a
    # flow run that takes the same requests as its parameter and runs the core inside it,
    # with no task runs.
    @prefect_flow(name="bench-empty", persist_result=False)
    def empty() -> int:
        return len(requests)

    @prefect_flow(name="bench-empty-unjoined", persist_result=False)
    def empty_unjoined() -> int:
        return len(requests)

    @prefect_flow(name="bench-core-in-a-flow", persist_result=False)
    def core_in_a_flow(requests: list[dict[str, Any]]) -> int:
        with batch(model, requests, defaults, api_key=API_KEY, base_url=base_url) as job:
            job.wait(poll_interval=POLL_INTERVAL)
            return len(job.collect().results)

    # these two end without joining their heartbeat thread, as `run_batch` runs do
    for reference in (empty_unjoined, core_in_a_flow):
        setattr(reference.fn, RUN_BATCH_MARK, True)

    warmup, _ = _timed(flow_once)
    _timed(empty)
    _timed(empty_unjoined)
    _timed(lambda: core_in_a_flow(requests))
    flow: list[float] = []
    core: list[float] = []
    empties: list[float] = []
    unjoined: list[float] = []
    wrapped: list[float] = []
    for _ in range(spec["repeats"]):
        seconds, count = _timed(flow_once)
        _check(count, len(requests))
        flow.append(seconds)
        seconds, count = _timed(core_once)
        _check(count, len(requests))
        core.append(seconds)
        seconds, count = _timed(empty)
        _check(count, len(requests))
        empties.append(seconds)
        seconds, count = _timed(empty_unjoined)
        _check(count, len(requests))
        unjoined.append(seconds)
        seconds, count = _timed(lambda: core_in_a_flow(requests))
        _check(count, len(requests))
        wrapped.append(seconds)
    return {
        "warmup": warmup,
        "flow": flow,
        "core": core,
        "empty": empties,
        "core_in_flow": wrapped,
        "empty_unjoined": unjoined,
        "requests": len(requests),
    }


def _timed(action: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    count = action()
    return time.perf_counter() - started, count


def _check(count: int, expected: int) -> None:
    if count != expected:
        raise RuntimeError(f"read {count} results, expected {expected}")
