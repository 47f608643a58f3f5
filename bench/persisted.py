"""Results persisted as the Prefect layer persists them, made without a Prefect server.

`persist` (run in a setup child, not timed) collects the read batch with `get_batch(...)`
and writes it the way a `run_batch` flow run does: Prefect's own `ResultStore` writes the
result record (a JSON envelope whose `result` string is the `BatchworkSerializer`'s sealed
`BatchResults` JSON) at the part's `results_key` in a `LocalFileSystem` block, and
`write_latest` writes the scope's pointer. `load_batch_results(SCOPE, storage=<the block>)`
then reads it back exactly as after a flow run.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import Any

from bench.workloads import API_KEY, MODEL

SCOPE = "bench-persisted"
"""The scope (an idempotency key) the results are persisted under."""


def persist(spec: dict[str, Any]) -> dict[str, Any]:
    """Write the results of batch `spec["batch_id"]` under SCOPE in `spec["storage"]`; the
    record's path and size, and how many results it holds."""
    from prefect.filesystems import LocalFileSystem
    from prefect.results import ResultStore

    from batchwork_prefect import BatchworkSerializer, PartHandle, get_batch
    from batchwork_prefect.orchestration.persistence import part_ref, results_key, write_latest

    batch_id: str = spec["batch_id"]
    with get_batch(batch_id, api_key=API_KEY, base_url=spec["base_url"]) as job:
        results = job.collect()
    handle = PartHandle(
        provider="anthropic",
        model=MODEL,
        digest=hashlib.sha256(batch_id.encode()).hexdigest(),
        batch_id=batch_id,
        custom_ids=[result.custom_id for result in results.values()],
        submitted_at=datetime.now(UTC),
    )
    block = LocalFileSystem(basepath=spec["storage"])
    key = results_key(SCOPE, part_ref(handle))
    store = ResultStore(
        result_storage=block,
        serializer=BatchworkSerializer(model="BatchResults"),
        cache_result_in_memory=False,
    )
    store.write(results, key=key)
    write_latest(block, SCOPE, [handle])
    record = str(block._resolve_path(key))
    return {"record": record, "record_bytes": os.path.getsize(record), "count": len(results)}
