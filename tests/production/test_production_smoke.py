"""The production shape itself: the server keeps its state in PostgreSQL, and the storage
block reaches moto through the proxy, which slows only the reads it is told to.

(A whole run on this shape is in every case of test_production_crashes.py.)"""

from __future__ import annotations

import boto3
import pytest
from prefect.filesystems import RemoteFileSystem

from harness import Cluster
from tests.production.services import Postgres
from tests.production.shape import BUCKET, S3

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
    # a flow run made through the API is a row of PostgreSQL's flow_run table
    run = cluster.run_deployment("capital-cities/capital-cities", cluster.claim_queue())
    found = postgres.psql(f"SELECT state_name FROM flow_run WHERE id = '{run.id}'", "prefect")
    assert found.split() == ["Scheduled"], found


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


def test_claims_and_intents_are_read_in_one_request(
    cluster: Cluster, s3: S3, storage: RemoteFileSystem
) -> None:
    """One GET: `read_path` opens the object (its ETag, then the bytes), and another
    process rewriting a claim in between made s3fs raise FileExpired."""
    from batchwork_prefect.orchestration.persistence import read_optional

    storage.write_path("smoke/b/claim-0.json", b'{"released": true}')
    before = s3.proxy.requests
    assert read_optional(storage, "smoke/b/claim-0.json") == b'{"released": true}'
    assert s3.proxy.requests - before == 1
    assert read_optional(storage, "smoke/b/nothing.json") is None
    assert s3.proxy.requests - before == 2
