"""The plain-Python batch lifecycle: build, submit, wait, read. No Prefect inside."""

from batchwork_prefect.core.asyncjob import AsyncBatchJob, abatch, aget_batch
from batchwork_prefect.core.build import BuiltBatch, Part, build_parts, content_digest, subset
from batchwork_prefect.core.existing import get_batch, list_batches
from batchwork_prefect.core.job import BatchJob, batch, submit_built
from batchwork_prefect.core.retries import retry_reason, retryable

__all__ = [
    "AsyncBatchJob",
    "BatchJob",
    "BuiltBatch",
    "Part",
    "abatch",
    "aget_batch",
    "batch",
    "build_parts",
    "content_digest",
    "get_batch",
    "list_batches",
    "retry_reason",
    "retryable",
    "submit_built",
    "subset",
]
