"""`batchwork-prefect poller` and `poller status`."""

from __future__ import annotations

from typing import Annotated

import typer

from ._shared import prefect_api, require_server

poller_app = typer.Typer(
    help="The managed poller of release-mode runs (run_batch(..., wait='release')).",
    no_args_is_help=False,
    rich_markup_mode=None,
)


@poller_app.callback(invoke_without_command=True)
def poller_command(
    ctx: typer.Context,
    scan_seconds: Annotated[
        float,
        typer.Option(help="Seconds between two reads of the wait records (new runs join).", min=1),
    ] = 10.0,
    max_polls_per_second: Annotated[
        float, typer.Option(help="Polls of the providers per second, at most.", min=0.1)
    ] = 20.0,
    concurrency: Annotated[int, typer.Option(help="Polls in flight at once.", min=1)] = 4,
    once: Annotated[
        bool, typer.Option("--once", help="Do one step (read, poll what is due, resume), exit.")
    ] = False,
) -> None:
    """Watch the batches of released runs, resume each run when its batches have ended.

    Run it beside the workers, as a service or a deployment's long-running flow; needs
    PREFECT_API_URL, and the provider env vars if runs use them instead of a saved block.
    Stateless: restart it at will, or run two.
    """
    if ctx.invoked_subcommand is not None:
        return
    require_server()
    import logging
    import signal
    import threading

    from prefect import get_client

    from batchwork_prefect.orchestration.poller import logger
    from batchwork_prefect.orchestration.poller_flow import serve

    # Prefect's logging setup owns the root logger: the poller's lines get their own handler
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with prefect_api(), get_client(sync_client=True) as client:
        report = serve(
            client,
            scan_seconds=scan_seconds,
            max_polls_per_second=max_polls_per_second,
            concurrency=concurrency,
            once=once,
            stop=stop,
        )
    if report is not None:
        typer.echo(
            f"polled {report.polled}, resumed {report.resumed} run(s), "
            f"dropped {report.dropped}; {report.pending} batch(es) pending"
        )


@poller_app.command("status", short_help="Show what the poller waits for.")
def poller_status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """Show what the poller waits for: every pending batch, its next poll, the oldest wait."""
    require_server()
    import json
    import time

    from prefect import get_client

    from batchwork_prefect.orchestration.poller_status import status_rows
    from batchwork_prefect.orchestration.wait_store import WaitStore

    with prefect_api(), get_client(sync_client=True) as client:
        snapshot = WaitStore(client).snapshot()
    all_rows = status_rows(snapshot, time.time())
    if as_json:
        typer.echo(json.dumps(all_rows, indent=2))
        return
    rows = [row for row in all_rows if row["unreadable"] is None]
    unreadable = [row for row in all_rows if row["unreadable"] is not None]
    if not rows:
        typer.echo("no released runs are waiting")
    else:
        runs = len({row["run"] for row in rows})
        oldest = max(row["waiting_for"] for row in rows)
        soonest = min(row["next_poll_in"] for row in rows)
        typer.echo(
            f"{len(rows)} batch(es) of {runs} run(s) waiting; oldest wait {_duration(oldest)}; "
            f"next poll in {_duration(max(soonest, 0))}"
        )
        typer.echo(f"{'run':36}  part  {'batch':28}  {'status':11}  polls  next poll  waiting")
    noted: set[str] = set()
    for row in rows:
        typer.echo(
            f"{row['run']:36}  {row['part']:4}  {row['batch_id'][:28]:28}  {row['status']:11}  "
            f"{row['polls']:5}  {_duration(max(row['next_poll_in'], 0)):>9}  "
            f"{_duration(row['waiting_for'])}"
            + (f"  error: {row['error']}" if row["error"] else "")
        )
        if row["note"] and row["run"] not in noted:  # once per run, under its first part
            noted.add(row["run"])
            typer.echo(f"  note: {row['note']}")
    if unreadable:
        typer.echo(f"{len(unreadable)} wait record(s) cannot be read (the poller skips them):")
    for row in unreadable:
        typer.echo(f"  {row['variable']}: {row['unreadable']}")


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
