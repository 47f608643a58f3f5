"""The managed poller as a service and as a deployment's flow: `serve` runs `Poller` until
told to stop, and `batchwork_poller` runs it inside a flow run, its lines in the run's logs."""

from __future__ import annotations

import logging
import threading
from typing import Annotated

from prefect import flow, get_run_logger
from prefect.client.orchestration import SyncPrefectClient, get_client
from pydantic import Field

from batchwork_prefect.orchestration.poller import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_POLLS_PER_SECOND,
    DEFAULT_SCAN_SECONDS,
    Poller,
    StepReport,
    logger,
)


@flow(name="batchwork-poller", persist_result=False)
def batchwork_poller(
    scan_seconds: Annotated[float, Field(ge=1)] = DEFAULT_SCAN_SECONDS,
    max_polls_per_second: Annotated[float, Field(gt=0)] = DEFAULT_MAX_POLLS_PER_SECOND,
    concurrency: Annotated[int, Field(ge=1)] = DEFAULT_CONCURRENCY,
    once: bool = False,
) -> dict[str, int]:
    """Run the managed poller inside this flow run until the run is cancelled.

    The same loop as `batchwork-prefect poller`, for running it as a deployment on a worker
    of its own (it holds one slot for as long as it runs). Cancelling the run stops it; it
    keeps no state, so a new run takes up where it was.

    Args:
        scan_seconds: Seconds between two reads of the wait records (new runs join).
        max_polls_per_second: Polls of the providers per second, at most.
        concurrency: Polls in flight at once.
        once: Do one step (read, poll what is due, resume) and return.

    Returns:
        With `once`, what the step did: polled, resumed, dropped, pending.

    Examples:
        ```python
        batchwork_poller.deploy("batchwork-poller", work_pool_name="batchwork-poller")
        ```
    """
    forward = _ToRunLogger(get_run_logger())  # the poller's lines in the run's logs (the UI)
    logger.addHandler(forward)
    logger.setLevel(logging.INFO)
    try:
        with get_client(sync_client=True) as client:
            report = serve(
                client,
                scan_seconds=scan_seconds,
                max_polls_per_second=max_polls_per_second,
                concurrency=concurrency,
                once=once,
            )
    finally:
        logger.removeHandler(forward)
    return dict(report.counts()) if report is not None else {}


def serve(
    client: SyncPrefectClient,
    *,
    scan_seconds: float = DEFAULT_SCAN_SECONDS,
    max_polls_per_second: float = DEFAULT_MAX_POLLS_PER_SECOND,
    concurrency: int = DEFAULT_CONCURRENCY,
    once: bool = False,
    stop: threading.Event | None = None,
) -> StepReport | None:
    """Run a poller until `stop` is set (or the process ends); with `once`, one step,
    whose report is returned."""
    poller = Poller(
        client,
        scan_seconds=scan_seconds,
        max_polls_per_second=max_polls_per_second,
        concurrency=concurrency,
    )
    if not once:
        poller.run(stop or threading.Event())
        return None
    try:
        return poller.step(scan=True)
    finally:
        poller.close()


class _ToRunLogger(logging.Handler):
    def __init__(self, run_logger: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
        super().__init__()
        self._run_logger = run_logger

    def emit(self, record: logging.LogRecord) -> None:
        self._run_logger.log(record.levelno, record.getMessage())
