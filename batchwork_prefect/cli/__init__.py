"""The `batchwork-prefect` command: demo, emulator, save-credentials, install-automations,
resolve-submission and poller.

Prefect and the emulator are imported inside the commands, so `--help` and `--version` stay
quick.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ._automations import install_automations_command
from ._credentials import save_credentials_command
from ._demo import demo
from ._emulator import emulator
from ._poller import poller_app
from ._submissions import resolve_submission_command

app = typer.Typer(
    help="Run LLM message batches as durable Prefect flows.",
    no_args_is_help=True,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from batchwork_prefect import __version__

        typer.echo(f"batchwork-prefect {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Run LLM message batches as durable Prefect flows."""


# short_help: the command list shows one line each, whole, at 80 columns
app.command(short_help="Run two requests through run_batch on the emulator.")(demo)
app.command(short_help="Serve the emulator until interrupted (Ctrl-C).")(emulator)
app.command("save-credentials", short_help="Save a provider's credentials block.")(
    save_credentials_command
)
app.command("install-automations", short_help="Install the automations that resume crashed runs.")(
    install_automations_command
)
app.command("resolve-submission", short_help="Settle a lost submit: adopt or resubmit.")(
    resolve_submission_command
)
app.add_typer(poller_app, name="poller", short_help="The managed poller of release-mode runs.")


def main() -> None:
    """Entry point of the `batchwork-prefect` script."""
    app()
