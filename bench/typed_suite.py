"""The typed-results section: its results type and runner (`python -m bench --only typed`);
the rows themselves are in `bench.typed`."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

from bench import openai_workloads
from bench.children import ChildError, Measured, Options, log, measure, spawn
from bench.typed import POLL_INTERVAL, ROWS, answer_chars, reply_content, requests
from bench.workloads import API_KEY, MAX_TOKENS, MODEL, outcome


@dataclass
class TypedResults:
    size: int
    rows: dict[str, Measured] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)
    """How many provider batches each provider's job holds."""
    results_bytes: dict[str, int] = field(default_factory=dict)
    """The JSONL the emulator serves for each provider's job (OpenAI: output + error files)."""
    answer_chars: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.note and all(row.ok for row in self.rows.values())

    def ratios(self, typed: str, plain: str, *, fresh: bool = True) -> list[float]:
        """Each repeat's typed time over the same repeat's plain time."""
        first, second = self.rows[typed], self.rows[plain]
        pairs = zip(
            first.fresh if fresh else first.seconds,
            second.fresh if fresh else second.seconds,
            strict=False,
        )
        return [one / other for one, other in pairs]


def _create(provider: str, base_url: str, size: int) -> tuple[list[str], int]:
    """Submit the typed batch with the project's `batch(..., output=)` and wait for it to end
    (setup, untimed); its batch ids and the bytes of its results (fetched once, so the
    emulator has built them)."""
    from batchwork_prefect import batch
    from bench import workloads
    from bench.typed_model import TicketExtraction

    model = f"anthropic/{MODEL}" if provider == "anthropic" else f"openai/{openai_workloads.MODEL}"
    key = API_KEY if provider == "anthropic" else openai_workloads.API_KEY
    defaults = {"max_tokens": MAX_TOKENS}
    job = batch(
        model, requests(size), defaults, api_key=key, base_url=base_url, output=TicketExtraction
    )
    with job:
        job.wait(poll_interval=POLL_INTERVAL)
        ids = list(job.ids)
    if provider == "anthropic":
        return ids, sum(workloads.warm_results(base_url, one) for one in ids)
    return ids, sum(sum(openai_workloads.warm_results(base_url, one)) for one in ids)


def run_typed(options: Options, baselines: dict[str, int] | None = None) -> TypedResults:
    """Every row in a fresh child per repeat, the order rotated each repeat."""
    from batchwork_prefect.emulator import Emulator
    from bench.workloads import reply_usage

    size = options.size
    results = TypedResults(size, rows={case.key: Measured(case.label, size) for case in ROWS})
    results.outcomes = {kind: 0 for kind in ("succeeded", "errored", "expired")}
    for index in range(size):
        results.outcomes[outcome(index)] += 1
    results.answer_chars = answer_chars(size)
    baselines = {} if baselines is None else baselines
    with (
        Emulator(reply_content=reply_content, reply_usage=reply_usage) as anthropic,
        Emulator(reply_content=reply_content) as openai,
    ):
        urls = {"anthropic": anthropic.base_url, "openai": openai.openai_base_url}
        ids: dict[str, str] = {}
        try:
            for provider, url in urls.items():
                log(f"typed: creating a typed {provider} batch of {size} results")
                made, results.results_bytes[provider] = _create(provider, url, size)
                ids[provider], results.batches[provider] = ",".join(made), len(made)
        except Exception as exc:  # the setup failed: every row says why
            results.note = f"failed: {str(exc)[:300]}"
            for row in results.rows.values():
                row.note = results.note
            return results
        log("typed: one untimed warm-up child")
        try:  # the first child after the setup pays for cold caches; no row should
            spawn(
                {
                    "case": "typed/anthropic/plain",
                    "base_url": urls["anthropic"],
                    "batch_id": ids["anthropic"],
                },
                modules=("batchwork_prefect",),
            )
        except (ChildError, subprocess.TimeoutExpired) as exc:
            results.note = f"failed: warm-up: {exc}"
            for row in results.rows.values():
                row.note = results.note
            return results
        keys = [case.key for case in ROWS]
        for repeat in range(options.repeats):
            log(f"typed: repeat {repeat + 1}/{options.repeats}")
            turn = repeat % len(keys)
            for key in keys[turn:] + keys[:turn]:
                provider = key.split("/")[0]
                spec = {"case": f"typed/{key}", "base_url": urls[provider]}
                measure(results.rows[key], {**spec, "batch_id": ids[provider]}, baselines)
    return results
