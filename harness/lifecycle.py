"""`Cluster`, and starting and stopping one: server, pool and queues, deployments, emulators."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from batchwork_prefect.emulator import Emulator
from harness.automations import Automations
from harness.base import QUEUES
from harness.pollers import Pollers
from harness.runs import FlowRuns
from harness.server import QUICK_SERVER, start_server
from harness.waiting import tail


class Cluster(FlowRuns, Automations, Pollers):
    """A Prefect server plus everything needed to deploy and run flows on it."""


@contextlib.contextmanager
def emulators(cluster: Cluster, api_key: str) -> Iterator[Callable[..., Emulator]]:
    """`make(block, provider="anthropic", **Emulator kwargs)`: an emulator on loopback
    checking `api_key`, and a credentials block `block` of `provider` on the cluster
    pointing at it; all stopped on exit."""
    started: list[Emulator] = []

    def make(block: str = "anthropic", provider: str = "anthropic", **kwargs: Any) -> Emulator:
        emulator = Emulator(api_key=api_key, **kwargs).start()
        started.append(emulator)
        base_url = emulator.base_url_for(provider)
        cluster.save_credentials(base_url, api_key, name=block, provider=provider)
        return emulator

    try:
        yield make
    finally:
        for emulator in started:
            emulator.stop()


def start_cluster(
    base: Path,
    *,
    queues: Sequence[str] = QUEUES,
    server_env: Mapping[str, str] | None = None,
    quick: bool = True,
    deployments: Sequence[str] = (),
) -> Cluster:
    """Start a server under `base`, create the pool and queues, deploy prefect.yaml (these
    `deployments`, by default all).

    `quick` gives the server `QUICK_SERVER`'s settings (else Prefect's defaults);
    `server_env` overrides the server's environment (`server_env()`), e.g. its
    `PREFECT_API_DATABASE_CONNECTION_URL` for a PostgreSQL database."""
    env = {**(QUICK_SERVER if quick else {}), **(server_env or {})}
    server = start_server(base / "server-home", **env)
    cluster = Cluster(
        server=server,
        client_home=base / "client-home",
        log_dir=base / "logs",
        queues=list(queues),
    )
    cluster.timings["server_healthy"] = server.started_in
    try:
        started = time.monotonic()
        cluster.create_pool_and_queues(queues)
        cluster.timings["pool_and_queues"] = time.monotonic() - started
        started = time.monotonic()
        cluster.deploy(*deployments)
        cluster.timings["deploy"] = time.monotonic() - started
    except BaseException:
        print(f"--- server log ---\n{tail(server.log_path)}", file=sys.stderr)
        server.stop()
        raise
    return cluster


@contextlib.contextmanager
def running_cluster(
    base: Path,
    *,
    queues: Sequence[str] = QUEUES,
    server_env: Mapping[str, str] | None = None,
    quick: bool = True,
    deployments: Sequence[str] = (),
) -> Iterator[Cluster]:
    """`start_cluster`, then stop every worker, every poller and the server on exit."""
    cluster = start_cluster(
        base, queues=queues, server_env=server_env, quick=quick, deployments=deployments
    )
    try:
        yield cluster
    finally:
        try:
            cluster.stop_workers()
            cluster.stop_pollers()
        finally:
            cluster.server.stop()
