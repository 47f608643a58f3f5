"""The `batchwork-prefect` command: demo, emulator, install-automations, resolve-submission."""

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


@app.command("install-automations")
def install_automations_command(
    tag: Annotated[
        str, typer.Option(help="Flow runs with this tag are watched (prefect.yaml's tag).")
    ] = "batchwork",
    zombie_after: Annotated[
        float,
        typer.Option(
            help="Seconds without a heartbeat after which a running flow run counts as crashed; "
            "keep it well above PREFECT_FLOWS_HEARTBEAT_FREQUENCY.",
            min=1,
        ),
    ] = 300.0,
    resume_within: Annotated[
        float,
        typer.Option(
            help="Seconds after a flow run starts during which a crash is resumed (default "
            "3 days); keep it above the longest batch wait.",
            min=1,
        ),
    ] = 3 * 24 * 3600.0,
    resume_after: Annotated[
        float,
        typer.Option(
            help="Seconds a crashed run stays still before it is resumed, so the worker's "
            "own late crash report lands first (at least 10).",
            min=10,
        ),
    ] = 30.0,
) -> None:
    """Install the automations that resume crashed batchwork flow runs (idempotent)."""
    from datetime import timedelta

    from batchwork_prefect.orchestration.automations import install_automations

    windows = (
        timedelta(seconds=zombie_after),
        timedelta(seconds=resume_within),
        timedelta(seconds=resume_after),
    )
    for name in install_automations(tag, *windows):
        typer.echo(f"installed automation {name!r}")


@app.command("resolve-submission")
def resolve_submission_command(
    intent_key: Annotated[str, typer.Argument(help="The intent's key, from the error message.")],
    adopt: Annotated[
        str | None, typer.Option(help="The provider batch id that is this part's batch.")
    ] = None,
    resubmit: Annotated[
        bool, typer.Option(help="No batch was made for this part: create it on the next run.")
    ] = False,
    storage: Annotated[
        str | None,
        typer.Option(
            help="The run's result_storage block as 'type/name' (default storage if unset)."
        ),
    ] = None,
) -> None:
    """Settle a submit whose answer was lost and could not be matched: adopt a batch or resubmit."""
    from batchwork_prefect.errors import BatchworkError
    from batchwork_prefect.orchestration.persistence import resolve_submission

    try:
        settled = resolve_submission(intent_key, adopt=adopt, resubmit=resubmit, storage=storage)
    except BatchworkError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    outcome = f"adopts {settled.batch_id}" if settled.batch_id else "will create the part anew"
    typer.echo(f"{intent_key}: the next run {outcome}; rerun the flow run now")


def main() -> None:
    """Entry point of the `batchwork-prefect` script."""
    app()


if __name__ == "__main__":
    main()
