"""The production shape itself: the server keeps its state in PostgreSQL, the storage block
reaches moto through the proxy, and a run completes on it with two workers."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest
from crash.cluster import Cluster
from prefect.client.schemas.objects import StateType
from prefect.filesystems import RemoteFileSystem

from batchwork_prefect.emulator import Emulator
from batchwork_prefect.persistence import load_batch_results

from .conftest import BUCKET, S3, STORAGE, start_workers
from .services import Postgres

pytestmark = [pytest.mark.production, pytest.mark.timeout(400)]


def _tables(postgres: Postgres) -> set[str]:
    rows = postgres.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", "prefect")
    return set(rows.split())


def test_the_prefect_server_keeps_its_state_in_postgresql(
    cluster: Cluster, postgres: Postgres
) -> None:
    assert {"flow_run", "deployment", "work_pool", "block_document", "automation"} <= _tables(
        postgres
    )
    deployments = postgres.psql("SELECT name FROM deployment ORDER BY name", "prefect").split()
    assert "run-batch" in deployments, deployments
    pools = postgres.psql("SELECT name FROM work_pool", "prefect").split()
    assert "batchwork" in pools, pools
    blocks = postgres.psql("SELECT name FROM block_document", "prefect").split()
    assert "prod-s3" in blocks, blocks
    assert not (cluster.server.home / "prefect.db").exists()  # no SQLite on the side


def test_the_storage_block_reaches_moto_through_the_delaying_proxy(
    cluster: Cluster, s3: S3, storage: RemoteFileSystem
) -> None:
    storage.write_path("smoke/a/intent.json", b'{"state": "pending"}')
    storage.write_path("smoke/a/other.json", b"{}")
    direct = boto3.client(
        "s3",
        endpoint_url=s3.moto.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    body = direct.get_object(Bucket=BUCKET, Key="results/smoke/a/intent.json")["Body"].read()
    assert body == b'{"state": "pending"}'
    assert s3.proxy.writes.get(f"/{BUCKET}/results/smoke/a/intent.json") == 1

    s3.proxy.delay = 0.2
    assert storage.read_path("smoke/a/other.json") == b"{}"
    assert s3.proxy.delayed == 0  # not a slowed path
    assert storage.read_path("smoke/a/intent.json") == b'{"state": "pending"}'
    assert s3.proxy.delayed >= 1
    with pytest.raises(FileNotFoundError):
        storage.read_path("smoke/missing/intent.json")


def test_a_run_completes_with_its_results_in_s3(
    cluster: Cluster, make_emulator: Callable[..., Emulator], s3: S3
) -> None:
    emulator = make_emulator("prod-smoke", processing_seconds=0)
    queue = cluster.claim_queue()
    start_workers(cluster, queue, queue)
    prompts = [{"custom_id": f"s{index}", "prompt": f"Smoke {index}"} for index in range(5)]
    run = cluster.run_deployment(
        "run-batch/run-batch",
        queue,
        {
            "model": "anthropic/claude-opus-4-8",
            "requests": prompts,
            "credentials": "prod-smoke",
            "poll_interval": 1,
            "result_storage": STORAGE,
        },
    )
    cluster.wait_for_state(run.id, StateType.COMPLETED, timeout=180)
    results = load_batch_results(str(run.id), storage=STORAGE)
    assert results.texts() == {p["custom_id"]: f"Emulated reply to: {p['prompt']}" for p in prompts}
    assert emulator.calls["create"] == 1
    written = [path for path in s3.proxy.writes if str(run.id) in path]
    assert written, s3.proxy.writes  # the run's intent went through the proxy to moto
