"""`batchwork-prefect install-automations`."""

from __future__ import annotations

from typing import Annotated

import typer

from ._shared import prefect_api, require_server


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
    """Install the automations that resume crashed batchwork flow runs (idempotent).

    Needs PREFECT_API_URL: the automations live on that server.
    """
    require_server()
    from datetime import timedelta

    from batchwork_prefect.orchestration.automations import install_automations

    windows = (
        timedelta(seconds=zombie_after),
        timedelta(seconds=resume_within),
        timedelta(seconds=resume_after),
    )
    with prefect_api():
        names = install_automations(tag, *windows)
    for name in names:
        typer.echo(f"installed automation {name!r}")
