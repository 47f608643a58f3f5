"""Run LLM message batches (Anthropic's Message Batches API first) as durable Prefect flows."""

from batchwork_prefect.core import BatchJob, batch, get_batch, list_batches
from batchwork_prefect.errors import (
    BatchTimeoutError,
    BatchworkError,
    ConfigurationError,
    InvalidBatchError,
    PartialSubmissionError,
    ProtocolError,
    ProviderError,
    ResultsIntegrityError,
    ResultsNotReadyError,
    StoredRecordError,
    SubmissionOutcomeUnknown,
    TransportError,
    UnknownStatusError,
    UnsafeURLError,
)
from batchwork_prefect.models import (
    BatchHandle,
    BatchRequest,
    BatchResult,
    BatchResults,
    BatchSnapshot,
    BatchStatus,
    RequestCounts,
    ResultError,
    ResultStatus,
    Usage,
)
from batchwork_prefect.orchestration.credentials import AnthropicCredentials
from batchwork_prefect.orchestration.flows import run_batch
from batchwork_prefect.orchestration.persistence import BatchworkSerializer, load_batch_results
from batchwork_prefect.orchestration.tasks import (
    build_batch,
    cancel_batch,
    read_batch_results,
    submit_batch,
    wait_for_batch,
)
from batchwork_prefect.webhooks import verify_webhook

__version__ = "0.1.0"

__all__ = [
    "AnthropicCredentials",
    "BatchHandle",
    "BatchJob",
    "BatchRequest",
    "BatchResult",
    "BatchResults",
    "BatchSnapshot",
    "BatchStatus",
    "BatchTimeoutError",
    "BatchworkError",
    "BatchworkSerializer",
    "ConfigurationError",
    "InvalidBatchError",
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
    "TransportError",
    "UnknownStatusError",
    "UnsafeURLError",
    "Usage",
    "batch",
    "build_batch",
    "cancel_batch",
    "get_batch",
    "list_batches",
    "load_batch_results",
    "read_batch_results",
    "run_batch",
    "submit_batch",
    "verify_webhook",
    "wait_for_batch",
]
