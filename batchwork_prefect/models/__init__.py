"""Provider-neutral types: what goes into a batch and what comes out of it.

`requests` (BatchRequest), `snapshots` (a provider batch seen from outside), `results` (one
result), `batch_results` (all of a job's), `stored` (their persisted JSON); `Usage` lives
below them (`batchwork_prefect.usage`), for the prices.
"""

from batchwork_prefect.models._trusted import ModelT, trusted, trusted_given
from batchwork_prefect.models.batch_results import BatchResults
from batchwork_prefect.models.requests import CUSTOM_ID_PATTERN, TYPED_FIELDS, BatchRequest
from batchwork_prefect.models.results import (
    BatchResult,
    MessageDecoder,
    ResultError,
    ResultStatus,
)
from batchwork_prefect.models.snapshots import (
    JOB_ID_SEPARATOR,
    BatchProblem,
    BatchSnapshot,
    BatchStatus,
    PartHandle,
    RequestCounts,
)
from batchwork_prefect.models.stored import results_json
from batchwork_prefect.usage import USAGE_FIELDS, Usage

__all__ = [
    "CUSTOM_ID_PATTERN",
    "JOB_ID_SEPARATOR",
    "TYPED_FIELDS",
    "USAGE_FIELDS",
    "BatchProblem",
    "BatchRequest",
    "BatchResult",
    "BatchResults",
    "BatchSnapshot",
    "BatchStatus",
    "MessageDecoder",
    "ModelT",
    "PartHandle",
    "RequestCounts",
    "ResultError",
    "ResultStatus",
    "Usage",
    "results_json",
    "trusted",
    "trusted_given",
]
