"""The plain-Python batch lifecycle: build, submit, wait, read. No Prefect inside."""

from typing import TYPE_CHECKING, Any

from batchwork_prefect.core.build import BuiltBatch, Part, build_parts, content_digest, subset
from batchwork_prefect.core.existing import get_batch, list_batches
from batchwork_prefect.core.job import BatchJob, batch, submit_built
from batchwork_prefect.core.retries import retry_reason, retryable

if TYPE_CHECKING:
    from batchwork_prefect.core.asyncjob import AsyncBatchJob, abatch, aget_batch

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

# The async names load asyncio (~10 ms of a fresh import) and are imported on first use.
_ASYNC = frozenset({"AsyncBatchJob", "abatch", "aget_batch"})


def __getattr__(name: str) -> Any:
    if name not in _ASYNC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from batchwork_prefect.core import asyncjob

    value = getattr(asyncjob, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value
