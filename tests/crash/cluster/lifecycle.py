"""`Cluster`, and starting and stopping one: server, pool and queues, deployments, emulators."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from batchwork_prefect.emulator import Emulator
from tests.crash.cluster.automations import Automations
from tests.crash.cluster.base import QUEUES
from tests.crash.cluster.pollers import Pollers
from tests.crash.cluster.runs import FlowRuns
from tests.crash.cluster.server import start_server
from tests.support.waiting import tail


class Cluster(FlowRuns, Automations, Pollers):
    """The crash server plus everything needed to deploy and run flows on it."""


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
) -> Cluster:
    """Start a server under `base`, create the pool and queues, deploy prefect.yaml.

    `server_env` overrides the server's environment (`server_env()`), e.g. its
    `PREFECT_API_DATABASE_CONNECTION_URL` for a PostgreSQL database."""
    server = start_server(base / "server-home", **dict(server_env or {}))
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
        cluster.deploy()
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
) -> Iterator[Cluster]:
    """`start_cluster`, then stop every worker and the server on exit."""
    cluster = start_cluster(base, queues=queues, server_env=server_env)
    try:
        yield cluster
    finally:
        try:
            cluster.stop_workers()
            cluster.stop_pollers()
        finally:
            cluster.server.stop()
