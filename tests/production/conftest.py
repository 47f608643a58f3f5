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
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from crash.cluster import Cluster, Worker, emulators, running_cluster, tail, wait_until
from prefect.filesystems import RemoteFileSystem

from batchwork_prefect.emulator import Emulator

from .services import (
    DelayingProxy,
    MotoServer,
    Postgres,
    create_bucket,
    find_postgres_bin,
    postgres_user_problem,
    running_moto,
    running_postgres,
    running_proxy,
)

API_KEY = "sk-ant-production-0123456789"
BUCKET = "batchwork-production"
STORAGE_BLOCK = "prod-s3"
STORAGE = f"remote-file-system/{STORAGE_BLOCK}"
"""What the runs pass as `result_storage`."""


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


@dataclass
class S3:
    moto: MotoServer
    proxy: DelayingProxy
    bucket: str

    @property
    def endpoint_url(self) -> str:
        """What the flows talk to: the proxy."""
        return self.proxy.url

    def storage_block(self) -> RemoteFileSystem:
        return RemoteFileSystem(
            basepath=f"s3://{self.bucket}/results",
            settings={
                "key": "testing",
                "secret": "testing",
                "client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": "us-east-1"},
            },
        )


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


def start_workers(cluster: Cluster, *queues: str) -> list[Worker]:
    """Start one process worker per queue given (a queue twice: two workers on it),
    together; return once all have registered with the server."""
    started = [
        cluster.start_worker(
            queue,
            f"{queue}-{index}-{uuid.uuid4().hex[:4]}",
            env={"AWS_EC2_METADATA_DISABLED": "true"},
            wait_ready=False,
        )
        for index, queue in enumerate(queues)
    ]

    def registered() -> bool:
        for worker in started:
            if not worker.alive():
                raise RuntimeError(f"worker {worker.name} exited:\n{worker.tail()}")
        return {worker.name for worker in started} <= cluster.worker_names()

    wait_until(registered, 90, interval=0.5, message="the workers to register")
    return started


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
