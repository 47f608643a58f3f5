"""Run LLM batches on every provider's Batch API as durable Prefect flows, one call for all.

`import batchwork_prefect` loads no Prefect: the plain-Python lifecycle (`batch`, `BatchJob`),
the models and the errors are imported here; the async lifecycle (`abatch`, `AsyncBatchJob`),
`verify_webhook` and the Prefect names (the credentials blocks, the flow, the tasks and their
`BatchScope`, the job block, the result serializer) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from batchwork_prefect.core import BatchJob, batch, get_batch, list_batches
from batchwork_prefect.errors import (
    BatchTimeoutError,
    BatchworkError,
    ClaimLostError,
    ConfigurationError,
    CrashLoopError,
    IncompleteResultsError,
    InvalidBatchError,
    MaybeSentError,
    PartialSubmissionError,
    ProtocolError,
    ProviderError,
    ResultsIntegrityError,
    ResultsNotReadyError,
    StoredRecordError,
    SubmissionOutcomeUnknown,
    TransportError,
    UnknownStatusError,
    UnreconciledSubmissionError,
    UnsafeURLError,
    WaitStopped,
    WebhookDeliveryError,
    WebhookVerificationError,
)
from batchwork_prefect.models import (
    BatchRequest,
    BatchResult,
    BatchResults,
    BatchSnapshot,
    BatchStatus,
    PartHandle,
    RequestCounts,
    ResultError,
    ResultStatus,
    Usage,
)
from batchwork_prefect.pricing import BatchCost
from batchwork_prefect.providers import BatchLimits

if TYPE_CHECKING:
    from batchwork_prefect.core.asyncjob import AsyncBatchJob, abatch, aget_batch
    from batchwork_prefect.orchestration.async_flows import arun_batch
    from batchwork_prefect.orchestration.credentials import (
        AnthropicCredentials,
        GeminiCredentials,
        MistralCredentials,
        OpenAICredentials,
        TogetherCredentials,
        XAICredentials,
    )
    from batchwork_prefect.orchestration.flows import run_batch
    from batchwork_prefect.orchestration.job_block import MessageBatchJob, MessageBatchJobRun
    from batchwork_prefect.orchestration.loading import load_batch_results
    from batchwork_prefect.orchestration.scopes import BatchScope
    from batchwork_prefect.orchestration.sealing import BatchworkSerializer
    from batchwork_prefect.orchestration.tasks import (
        build_batch,
        cancel_part,
        read_part_results,
        submit_part,
        wait_for_part,
    )
    from batchwork_prefect.webhooks import verify_webhook


__all__ = [
    "AnthropicCredentials",
    "AsyncBatchJob",
    "BatchCost",
    "BatchJob",
    "BatchLimits",
    "BatchRequest",
    "BatchResult",
    "BatchResults",
    "BatchScope",
    "BatchSnapshot",
    "BatchStatus",
    "BatchTimeoutError",
    "BatchworkError",
    "BatchworkSerializer",
    "ClaimLostError",
    "ConfigurationError",
    "CrashLoopError",
    "GeminiCredentials",
    "IncompleteResultsError",
    "InvalidBatchError",
    "MaybeSentError",
    "MessageBatchJob",
    "MessageBatchJobRun",
    "MistralCredentials",
    "OpenAICredentials",
    "PartHandle",
    "PartialSubmissionError",
    "ProtocolError",
    "ProviderError",
    "RequestCounts",
    "ResultError",
    "ResultStatus",
    "ResultsIntegrityError",
    "ResultsNotReadyError",
    "StoredRecordError",
    "SubmissionOutcomeUnknown",
    "TogetherCredentials",
    "TransportError",
    "UnknownStatusError",
    "UnreconciledSubmissionError",
    "UnsafeURLError",
    "Usage",
    "WaitStopped",
    "WebhookDeliveryError",
    "WebhookVerificationError",
    "XAICredentials",
    "abatch",
    "aget_batch",
    "arun_batch",
    "batch",
    "build_batch",
    "cancel_part",
    "get_batch",
    "list_batches",
    "load_batch_results",
    "read_part_results",
    "run_batch",
    "submit_part",
    "verify_webhook",
    "wait_for_part",
]

# The Prefect names, imported from the Prefect layer on first use (it re-exports them all).
_LAZY = frozenset(
    {
        "AnthropicCredentials",
        "BatchScope",
        "BatchworkSerializer",
        "GeminiCredentials",
        "arun_batch",
        "MessageBatchJob",
        "MessageBatchJobRun",
        "MistralCredentials",
        "OpenAICredentials",
        "TogetherCredentials",
        "build_batch",
        "cancel_part",
        "load_batch_results",
        "read_part_results",
        "run_batch",
        "submit_part",
        "wait_for_part",
        "XAICredentials",
    }
)


# Core names whose modules a read or submit does not need (asyncio; hmac and the webhook
# client), imported on first use, by module.
_LAZY_CORE = {
    "AsyncBatchJob": "batchwork_prefect.core.asyncjob",
    "abatch": "batchwork_prefect.core.asyncjob",
    "aget_batch": "batchwork_prefect.core.asyncjob",
    "verify_webhook": "batchwork_prefect.webhooks",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY_CORE:
        value = getattr(importlib.import_module(_LAZY_CORE[name]), name)
        globals()[name] = value
        return value
    if name == "__version__":  # written once, in pyproject.toml; read when asked for
        from importlib.metadata import version

        globals()[name] = version("batchwork-prefect")
        return globals()[name]
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("batchwork_prefect.orchestration"), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, "__version__"})
