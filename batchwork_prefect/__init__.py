"""Run LLM message batches (Anthropic's Message Batches API first) as durable Prefect flows.

`import batchwork_prefect` loads no Prefect: the plain-Python lifecycle (`batch`, `BatchJob`),
the models, the errors and `verify_webhook` are imported here; the Prefect names (the
credentials block, the flow, the tasks, the result serializer) are imported on first use.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

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
from batchwork_prefect.webhooks import verify_webhook

if TYPE_CHECKING:
    from batchwork_prefect.orchestration.credentials import AnthropicCredentials
    from batchwork_prefect.orchestration.flows import run_batch
    from batchwork_prefect.orchestration.persistence import (
        BatchworkSerializer,
        load_batch_results,
    )
    from batchwork_prefect.orchestration.tasks import (
        build_batch,
        cancel_batch,
        read_batch_results,
        submit_batch,
        wait_for_batch,
    )

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

# The Prefect names: each is imported from its module on first use. A name not (or no
# longer) found there is looked up in `batchwork_prefect.orchestration`, which re-exports them.
_ORCHESTRATION = "batchwork_prefect.orchestration"
_LAZY: dict[str, str] = {
    "AnthropicCredentials": f"{_ORCHESTRATION}.credentials",
    "BatchworkSerializer": f"{_ORCHESTRATION}.persistence",
    "build_batch": f"{_ORCHESTRATION}.tasks",
    "cancel_batch": f"{_ORCHESTRATION}.tasks",
    "load_batch_results": f"{_ORCHESTRATION}.persistence",
    "read_batch_results": f"{_ORCHESTRATION}.tasks",
    "run_batch": f"{_ORCHESTRATION}.flows",
    "submit_batch": f"{_ORCHESTRATION}.tasks",
    "wait_for_batch": f"{_ORCHESTRATION}.tasks",
}


def _import_lazy(name: str, path: str) -> Any:
    """`name` from module `path`, else from the orchestration package (None if in neither)."""
    for module_path in dict.fromkeys((path, _ORCHESTRATION)):
        try:
            module = importlib.import_module(module_path)
        except ModuleNotFoundError as exc:
            if exc.name != module_path:  # the module exists; something it imports does not
                raise
            continue
        if hasattr(module, name):
            return getattr(module, name)
    return None


def __getattr__(name: str) -> Any:
    path = _LAZY.get(name)
    value = None if path is None else _import_lazy(name, path)
    if value is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return list(__all__)


# Prefect finds the credentials block by importing this package (the `prefect.collections`
# entry point), e.g. when its server starts and registers the block types it knows. If Prefect
# is already loaded, that is what is happening, or may yet: define the block now, as it costs
# little more then.
if "prefect.blocks.core" in sys.modules:
    importlib.import_module(_LAZY["AnthropicCredentials"])
