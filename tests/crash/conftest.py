"""Fixtures of the crash matrix: one real Prefect server for the package, workers per test.

`crash_cluster` (session scope, used by this package only) starts `prefect server start` on
a free loopback port with its own PREFECT_HOME, creates the `batchwork` process pool with
the `crash-*` queues and deploys the repo's prefect.yaml. `cluster` (per test) points this
thread's Prefect client at it with `temporary_settings`, and afterwards SIGKILLs the test's
workers and pollers, deletes its automations and, when the test failed, prints the workers'
and the server's log tails.
`make_emulator(**kwargs)` starts an emulator and saves the `anthropic` credentials block
(or another name) pointing at it. Nothing here touches the in-process
`prefect_test_harness` of `tests/orchestration`: no environment variable of this process
is changed and no settings context outlives a test.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from batchwork_prefect.emulator import Emulator
from harness import Cluster, emulators, running_cluster, tail

API_KEY = "sk-ant-crash-0123456789"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures can tell that a test failed."""
    report = yield
    setattr(item, f"crash_report_{report.when}", report)
    return report


@pytest.fixture(scope="session")  # session: kept across the chunks xdist sends
def crash_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The crash server with the pool, its queues and the deployments (one per session)."""
    with running_cluster(tmp_path_factory.mktemp("crash-cluster")) as started:
        print(f"crash cluster at {started.api_url}: {started.timings}", file=sys.stderr)
        yield started


@pytest.fixture
def cluster(crash_cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The crash cluster, with this test's Prefect client settings pointing at it."""
    workers, automations = len(crash_cluster.workers), len(crash_cluster.automations)
    try:
        with crash_cluster.settings():
            yield crash_cluster
    finally:
        report = getattr(request.node, "crash_report_call", None)
        if report is not None and report.failed:
            print(crash_cluster.worker_logs(120))
            print(f"--- server log ---\n{tail(crash_cluster.server.log_path, 60)}")
        if report is not None and report.failed and crash_cluster.pollers:
            print(crash_cluster.poller_logs(120))
        try:
            crash_cluster.stop_pollers()
            crash_cluster.stop_workers(keep=workers)
        finally:
            crash_cluster.delete_automations(keep=automations)


@pytest.fixture
def make_emulator(cluster: Cluster) -> Iterator[Callable[..., Emulator]]:
    """Start an emulator for this test and save a credentials block pointing at it.

    `make_emulator(block="anthropic", **Emulator kwargs)`; the flows' `credentials`
    parameter defaults to the `anthropic` block (prefect.yaml). The emulator checks the API
    key and listens on loopback; it is stopped after the test.
    """
    with emulators(cluster, API_KEY) as make:
        yield make


@pytest.fixture
def installed_automations(cluster: Cluster) -> Iterator[list[str]]:
    """`batchwork-prefect install-automations`, run as a user would; removed afterwards."""
    names = cluster.install_automations()
    try:
        yield names
    finally:
        cluster.uninstall_automations(names)
