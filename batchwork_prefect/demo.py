"""The demo: the capital-cities batch, end to end against the built-in emulator."""

from __future__ import annotations

from collections.abc import Callable

from batchwork_prefect.core import batch
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.models import BatchRequest, BatchResults, BatchSnapshot

MODEL = "anthropic/claude-opus-4-8"
REQUESTS = [
    BatchRequest(custom_id="fr", prompt="Capital of France? One word."),
    BatchRequest(custom_id="jp", prompt="Capital of Japan? One word."),
]


def run_demo(
    *, processing_seconds: float = 1.0, echo: Callable[[str], None] = print
) -> BatchResults:
    """Start the emulator, run the batch through batch() → wait() → collect(), print a table."""
    with Emulator(processing_seconds=processing_seconds, gradual_counts=True) as emulator:
        echo(f"emulator listening on {emulator.base_url} (no API key, no network)")
        with batch(
            MODEL,
            REQUESTS,
            defaults={"max_tokens": 1024},
            api_key="emulator",
            base_url=emulator.base_url,
        ) as job:
            echo(f"submitted batch {job.id} ({job.request_counts.total} requests)")

            def progress(snapshot: BatchSnapshot) -> None:
                counts = snapshot.request_counts
                echo(f"  {snapshot.status.value}: {counts.finished}/{counts.total} finished")

            final = job.wait(poll_interval=0.25, max_poll_interval=1.0, on_poll=progress)
            echo(f"batch {final.id} {final.status.value}")
            results = job.collect()
    echo(format_table(results))
    return results


def format_table(results: BatchResults) -> str:
    """A plain-text table of the results: id, status, text or error, tokens."""
    rows = [("custom_id", "status", "text", "in/out tokens")]
    for result in results.values():
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
    return "\n".join(lines)
