"""`batchwork-prefect demo`."""

from __future__ import annotations

from typing import Annotated

import typer


def demo(
    processing_seconds: Annotated[
        float, typer.Option(help="How long the emulated batch takes.", min=0)
    ] = 1.0,
) -> None:
    """Run the two capital-city requests through run_batch against the built-in emulator."""
    from batchwork_prefect.demo import run_demo

    run_demo(processing_seconds=processing_seconds, echo=typer.echo)
