"""`batchwork-prefect emulator`: serve the emulated APIs, with injected faults."""

from __future__ import annotations

import errno
from typing import Annotated

import typer

from ._shared import fail

FAULT_SYNTAX = "ROUTE[:STATUS][:TIMES][:OPTION]..."
"""The shape of an `emulator --fault` value (the emulator's own, spelled out so that
`--help` does not import the emulator)."""


def emulator(
    port: Annotated[
        int, typer.Option(help="Port to listen on (0 picks a free one).", min=0, max=65535)
    ] = 8787,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    processing_seconds: Annotated[
        float, typer.Option(help="Emulated seconds from create to end.", min=0)
    ] = 5.0,
    gradual_counts: Annotated[
        bool, typer.Option(help="Move request counts while the batch runs.")
    ] = False,
    api_key: Annotated[
        str | None,
        typer.Option(
            help="Require this API key, in each API's own header (x-api-key, Bearer, "
            "x-goog-api-key).",
            envvar="EMULATOR_API_KEY",
        ),
    ] = None,
    time_scale: Annotated[
        float,
        typer.Option(help="Emulated seconds per real second (0 freezes the clock).", min=0),
    ] = 1.0,
    cancel_seconds: Annotated[
        float, typer.Option(help="Emulated seconds a canceled batch stays 'canceling'.", min=0)
    ] = 0.0,
    poll_retry_after: Annotated[
        int | None,
        typer.Option(help="Send 'retry-after: N' on retrieves of unfinished batches.", min=0),
    ] = None,
    create_delay_seconds: Annotated[
        float,
        typer.Option(help="Real seconds a create waits, batch stored, before it answers.", min=0),
    ] = 0.0,
    results_origin: Annotated[
        str | None,
        typer.Option(help="Origin put in results_url instead of the emulator's own."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed of the ids and of the order of results lines "
            "(default: ids of its own, the order of seed 0)."
        ),
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help=f"Queue a fault, {FAULT_SYNTAX}; repeatable (see above).", metavar="FAULT"
        ),
    ] = None,
) -> None:
    """Serve the batch APIs' emulator (every provider's, each under its base path) until Ctrl-C.

    \b
    --fault ROUTE[:STATUS][:TIMES][:OPTION]... answers the next TIMES (default 1)
    requests on ROUTE (Anthropic's create, list, retrieve, cancel, delete,
    results; another API's by name, e.g. openai.batches.create) with HTTP
    STATUS (default 500) instead of the real answer. OPTIONs:
      retry-after=SECONDS, retry-after-ms=MS
      should-retry=true|false (the x-should-retry header)
      after-create (a route that stores an object, e.g. create or
        openai.batches.create: store it, then answer with the fault)
      truncate-after=BYTES (send the real response but hang up after BYTES body
        bytes; no STATUS, or 200)
      body=TEXT (the raw error body; last, as it may hold colons)
    Faults on one route are used in the order given.

    \b
    Example:
      --fault retrieve:529:2:retry-after=3 --fault results:truncate-after=100
    """
    from batchwork_prefect.emulator import Emulator
    from batchwork_prefect.emulator._fault_text import parse_fault

    try:
        faults = [parse_fault(text) for text in fault or []]
    except ValueError as exc:
        raise typer.BadParameter(f"{exc}; see --help", param_hint="'--fault'") from None

    server = Emulator(
        host=host,
        port=port,
        api_key=api_key,
        processing_seconds=processing_seconds,
        gradual_counts=gradual_counts,
        cancel_seconds=cancel_seconds,
        poll_retry_after=poll_retry_after,
        time_scale=time_scale,
        create_delay_seconds=create_delay_seconds,
        results_origin=results_origin,
        seed=seed,
    )
    for parsed in faults:
        server.add_fault(parsed)
    try:
        server.start()
    except OSError as exc:
        fail(_listen_problem(host, port, exc), 2)
    typer.echo(f"Batch APIs emulator on {server.base_url} (Ctrl-C to stop)")
    for text in fault or []:
        typer.echo(f"queued fault {text}")
    server.serve_forever()


def _listen_problem(host: str, port: int, exc: OSError) -> str:
    """Why the emulator cannot listen on `host:port`, and what to do instead."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use: choose another --port, "
            "or --port 0 for a free one"
        )
    reason = exc.strerror or str(exc)
    return (
        f"cannot listen on {host}:{port} ({reason}): check --host, or choose another --port "
        "(--port 0 for a free one)"
    )
