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
    SubmissionOutcomeUnknown,
    TransportError,
    UnknownStatusError,
    UnsafeURLError,
)
from batchwork_prefect.models import (
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

__version__ = "0.1.0"

__all__ = [
    "BatchJob",
    "BatchRequest",
    "BatchResult",
    "BatchResults",
    "BatchSnapshot",
    "BatchStatus",
    "BatchTimeoutError",
    "BatchworkError",
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
    "SubmissionOutcomeUnknown",
    "TransportError",
    "UnknownStatusError",
    "UnsafeURLError",
    "Usage",
    "batch",
    "get_batch",
    "list_batches",
]
