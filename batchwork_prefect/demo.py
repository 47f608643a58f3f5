"""The demo: the capital-cities batch through `run_batch` against the built-in emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
from prefect.settings import PREFECT_LOCAL_STORAGE_PATH

from batchwork_prefect.emulator import Emulator
from batchwork_prefect.models import BatchRequest, BatchResults
from batchwork_prefect.orchestration.credentials import AnthropicCredentials
from batchwork_prefect.orchestration.flows import run_batch
from batchwork_prefect.orchestration.persistence import latest_key
from batchwork_prefect.orchestration.reporting import cost_line
from batchwork_prefect.orchestration.temporary_server import temporary_server_settings

MODEL = "anthropic/claude-opus-4-8"
REQUESTS = [
    BatchRequest(custom_id="fr", prompt="Capital of France? One word."),
    BatchRequest(custom_id="jp", prompt="Capital of Japan? One word."),
]


def run_demo(
    *, processing_seconds: float = 1.0, echo: Callable[[str], None] = print
) -> BatchResults:
    """Run the flow on the embedded Prefect server against the emulator; print the results."""
    with (
        temporary_server_settings(),
        Emulator(processing_seconds=processing_seconds, gradual_counts=True) as emulator,
    ):
        echo(f"emulator listening on {emulator.base_url} (no API key, no network)")
        state = run_batch(
            model=MODEL,
            requests=REQUESTS,
            defaults={"max_tokens": 1024},
            credentials=AnthropicCredentials(api_key="emulator", base_url=emulator.base_url),
            poll_interval=0.25,
            max_poll_interval=1.0,
            return_state=True,
        )
        results: BatchResults = state.result()
    echo(format_table(results))
    flow_run_id = state.state_details.flow_run_id
    storage = Path(str(PREFECT_LOCAL_STORAGE_PATH.value()))
    pointer = storage / latest_key(str(flow_run_id))
    if pointer.exists():
        for key in orjson.loads(pointer.read_bytes())["results"]:
            echo(f"results persisted to {storage / key}")
    return results


def format_table(results: BatchResults) -> str:
    """A plain-text table of the results: id, status, text or error, tokens; then the
    total tokens and the cost."""
    rows = [("custom_id", "status", "text", "in/out tokens")]
    for result in sorted(results.values(), key=lambda result: result.custom_id):
        shown = result.text if result.text is not None else ""
        if result.error is not None:
            shown = f"{result.error.type}: {result.error.message}"
        tokens = (
            f"{result.usage.input_tokens}/{result.usage.output_tokens}" if result.usage else "-"
        )
        rows.append((result.custom_id, result.status.value, shown[:60], tokens))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    usage = results.usage
    lines.append(f"total tokens: {usage.input_tokens} in, {usage.output_tokens} out")
    lines.append(f"cost: {cost_line(results)}")
    return "\n".join(lines)
