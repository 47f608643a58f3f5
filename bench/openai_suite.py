"""The OpenAI read and submit section: its results type and runner."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench import openai_workloads
from bench.children import Measured, Options, case_row, log, measure
from bench.openai_cases import READERS as OPENAI_READERS
from bench.openai_cases import SUBMITTERS as OPENAI_SUBMITTERS
from bench.openai_cases import UPLOAD_ONLY
from bench.workloads import outcome


@dataclass
class OpenAIResults:
    """The OpenAI rows: one ended batch read by every reader, the same requests submitted by
    every submitter."""

    size: int
    readers: dict[str, Measured]
    submitters: dict[str, Measured]
    output_bytes: int = 0
    error_bytes: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    """How many results end each way (succeeded, errored, expired), and how many of the
    succeeded are tool calls alone (`tool_calls`)."""
    note: str = ""
    """Why nothing was read (the setup failed), or ""."""


def run_openai(options: Options, baselines: dict[str, int] | None = None) -> OpenAIResults:
    """The OpenAI rows at `openai_workloads.size(options.size)`: read one ended batch with
    every reader, then submit the same requests with every submitter, each to a fresh
    emulator (checked afterwards to hold one batch of every request).

    `baselines` may hold the Anthropic rows' baselines: a baseline child imports the case's
    modules and builds its prompts, whichever provider the case then talks to, so a case
    with the same modules and size reuses it (the OpenAI provider loads on first use, after
    the baseline stops)."""
    from batchwork_prefect.emulator import Emulator

    size = openai_workloads.size(options.size)
    results = OpenAIResults(
        size,
        readers={case.key: case_row(case, size) for case in OPENAI_READERS},
        submitters={case.key: case_row(case, size) for case in (*OPENAI_SUBMITTERS, UPLOAD_ONLY)},
        outcomes=_openai_outcomes(size),
    )
    with Emulator(reply_content=openai_workloads.reply_content) as emulator:
        base_url, batch_id = emulator.openai_base_url, ""
        baselines = {} if baselines is None else baselines
        log(f"openai: creating a batch of {size} results")
        try:
            batch_id = openai_workloads.create_batch(base_url, size)
            results.output_bytes, results.error_bytes = openai_workloads.warm_results(
                base_url, batch_id
            )
        except Exception as exc:  # the setup failed: every row says why
            results.note = f"failed: {str(exc)[:300]}"
            for row in results.readers.values():
                row.note = row.note or results.note
        for repeat in range(options.repeats):
            log(f"openai read: repeat {repeat + 1}/{options.repeats}")
            for case in OPENAI_READERS:
                spec = {"case": f"openai/read/{case.key}", "base_url": base_url}
                measure(results.readers[case.key], {**spec, "batch_id": batch_id}, baselines)
    for repeat in range(options.repeats):
        log(f"openai submit: repeat {repeat + 1}/{options.repeats}")
        for case in (*OPENAI_SUBMITTERS, UPLOAD_ONLY):
            row = results.submitters[case.key]
            with Emulator() as emulator:
                spec = {"case": f"openai/submit/{case.key}", "base_url": emulator.openai_base_url}
                measure(row, {**spec, "size": size}, baselines)
                if row.note:
                    continue
                held = openai_workloads.created_requests(emulator.openai_base_url)
                if emulator.batches_created != 1 or held != size:
                    row.note = (
                        f"failed: {emulator.batches_created} batches created holding {held} "
                        f"requests, expected 1 of {size}"
                    )
    return results


def _openai_outcomes(size: int) -> dict[str, int]:
    counts = dict.fromkeys(("succeeded", "errored", "expired", "tool_calls"), 0)
    for index, prompt in enumerate(openai_workloads.read_prompts(size)):
        ended = outcome(index)
        counts[ended] += 1
        params = {"messages": [{"role": "user", "content": prompt}]}
        if ended == "succeeded" and openai_workloads.is_tool_call(params):
            counts["tool_calls"] += 1
    return counts
