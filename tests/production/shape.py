"""The production shape's names and helpers shared by its fixtures and tests: the bucket, the
storage block the runs write to, the S3 services, and starting workers together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from prefect.filesystems import RemoteFileSystem

from harness import Cluster, Worker, wait_until
from tests.production.services import DelayingProxy, MotoServer

BUCKET = "batchwork-production"
STORAGE_BLOCK = "prod-s3"
STORAGE = f"remote-file-system/{STORAGE_BLOCK}"
"""What the runs pass as `result_storage`."""


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
