"""The plain-Python batch lifecycle: build, submit, wait, read. No Prefect inside."""

from batchwork_prefect.core.build import BuiltBatch, Part, build_parts, content_digest
from batchwork_prefect.core.job import BatchJob, batch, get_batch, list_batches, submit_built

__all__ = [
    "BatchJob",
    "BuiltBatch",
    "Part",
    "batch",
    "build_parts",
    "content_digest",
    "get_batch",
    "list_batches",
    "submit_built",
]
