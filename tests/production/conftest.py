"""Fixtures of the production shape: PostgreSQL, S3 (moto behind a delaying proxy), a Prefect
server on PostgreSQL with the repo's deployments, and two workers per test.

Package scope, started once for the folder, in this order: `postgres` (initdb + postgres on
a loopback port, a `prefect` database), `s3` (moto_server, the proxy in front of it, the
bucket), `production_cluster` (`prefect server start` with
`PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://...`, the `batchwork` process
pool, `prefect deploy --all`, and the `remote-file-system/prod-s3` storage block whose
endpoint is the proxy). Per test: `cluster` (this thread's client pointed at the server;
afterwards the test's workers are SIGKILLed with their flow runs, its automations deleted,
the proxy reset, and on failure the logs printed), `make_emulator`, `installed_automations`.
Without PostgreSQL binaries the folder is skipped (CI installs them: .ci/run).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prefect.filesystems import RemoteFileSystem

from batchwork_prefect.emulator import Emulator
from harness import Cluster, emulators, running_cluster, tail
from tests.production.services import (
    Postgres,
    create_bucket,
    find_postgres_bin,
    postgres_user_problem,
    running_moto,
    running_postgres,
    running_proxy,
)
from tests.production.shape import BUCKET, S3, STORAGE_BLOCK

API_KEY = "sk-ant-production-0123456789"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the item, so fixtures can tell that a test failed."""
    report = yield
    setattr(item, f"production_report_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server on loopback with an empty `prefect` database."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin); "
            "install it (Debian: apt-get install postgresql) to run the production tests"
        )
    if problem := postgres_user_problem():
        pytest.skip(problem)
    with running_postgres(bin_dir) as server:
        server.create_database("prefect")
        yield server


@pytest.fixture(scope="package")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3]:
    """moto_server with the bucket, and the delaying proxy in front of it."""
    with (
        running_moto(tmp_path_factory.mktemp("moto")) as moto,
        running_proxy(moto.url) as proxy,
    ):
        create_bucket(moto.url, BUCKET)
        yield S3(moto=moto, proxy=proxy, bucket=BUCKET)


@pytest.fixture(scope="package")
def production_cluster(
    tmp_path_factory: pytest.TempPathFactory, postgres: Postgres, s3: S3
) -> Iterator[Cluster]:
    """The Prefect server on PostgreSQL, the pool and deployments, the S3 storage block."""
    server_env = {"PREFECT_API_DATABASE_CONNECTION_URL": postgres.url("prefect")}
    with running_cluster(
        tmp_path_factory.mktemp("production-cluster"), server_env=server_env
    ) as started:
        with started.settings():
            s3.storage_block().save(STORAGE_BLOCK, overwrite=True)
        print(f"production cluster at {started.api_url}: {started.timings}", file=sys.stderr)
        yield started


@pytest.fixture
def cluster(
    production_cluster: Cluster, s3: S3, postgres: Postgres, request: pytest.FixtureRequest
) -> Iterator[Cluster]:
    """The production cluster, with this test's Prefect client settings pointing at it."""
    workers, automations_ = len(production_cluster.workers), len(production_cluster.automations)
    s3.proxy.reset()
    try:
        with production_cluster.settings():
            yield production_cluster
    finally:
        report = getattr(request.node, "production_report_call", None)
        if report is not None and report.failed:
            print(production_cluster.worker_logs(150))
            print(f"--- server log ---\n{tail(production_cluster.server.log_path, 60)}")
            print(f"--- postgres log ---\n{tail(postgres.log_path, 30)}")
            print(f"--- moto log ---\n{tail(s3.moto.log_path, 30)}")
        try:
            production_cluster.stop_workers(keep=workers)
        finally:
            s3.proxy.reset()
            production_cluster.delete_automations(keep=automations_)


@pytest.fixture
def storage(cluster: Cluster, s3: S3) -> RemoteFileSystem:
    """The storage block the runs write to (`result_storage=STORAGE`), as saved."""
    with cluster.settings():
        block = RemoteFileSystem.load(STORAGE_BLOCK)
    assert isinstance(block, RemoteFileSystem)
    return block


@pytest.fixture
def make_emulator(cluster: Cluster) -> Iterator[Callable[..., Emulator]]:
    """`make_emulator(block, **Emulator kwargs)`: an emulator on loopback for this test and
    a credentials block `block` pointing at it; stopped after the test."""
    with emulators(cluster, API_KEY) as make:
        yield make


@pytest.fixture
def installed_automations(cluster: Cluster) -> Iterator[list[str]]:
    """`batchwork-prefect install-automations --zombie-after 45`, run as a user would;
    removed afterwards."""
    names = cluster.install_automations()
    try:
        yield names
    finally:
        cluster.uninstall_automations(names)
