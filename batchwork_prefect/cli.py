"""The `batchwork-prefect` command: `demo` and `emulator`."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Run LLM message batches as durable Prefect flows.", no_args_is_help=True)


@app.command()
def demo(
    processing_seconds: Annotated[
        float, typer.Option(help="How long the emulated batch takes.", min=0)
    ] = 1.0,
) -> None:
    """Run the capital-cities batch end to end against the built-in emulator."""
    from batchwork_prefect.demo import run_demo

    run_demo(processing_seconds=processing_seconds, echo=typer.echo)


@app.command()
def emulator(
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8787,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    processing_seconds: Annotated[
        float, typer.Option(help="Emulated seconds from create to end.", min=0)
    ] = 5.0,
    gradual_counts: Annotated[
        bool, typer.Option(help="Move request counts while the batch runs.")
    ] = False,
    api_key: Annotated[
        str | None, typer.Option(help="Require this x-api-key.", envvar="EMULATOR_API_KEY")
    ] = None,
    time_scale: Annotated[
        float, typer.Option(help="Emulated seconds per real second.", min=0)
    ] = 1.0,
) -> None:
    """Serve the Anthropic Message Batches emulator until interrupted."""
    from batchwork_prefect.emulator import Emulator

    server = Emulator(
        host=host,
        port=port,
        api_key=api_key,
        processing_seconds=processing_seconds,
        gradual_counts=gradual_counts,
        time_scale=time_scale,
    )
    server.start()
    typer.echo(f"Anthropic batches emulator on {server.base_url} (Ctrl-C to stop)")
    server.serve_forever()


def main() -> None:
    """Entry point of the `batchwork-prefect` script."""
    app()


if __name__ == "__main__":
    main()
