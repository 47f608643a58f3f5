"""xAI's Batch API (REST): its batch objects and names (`batches`), its requests and the
add-requests chunks (`requests`), its results pages (`results`), and the provider over the
shared transport (`provider`)."""

from batchwork_prefect.providers.xai.batches import (
    BATCH_ID_PATTERN,
    CHUNK_BYTES,
    DEFAULT_BASE_URL,
    FILL_INTERRUPTED,
    LIMITS,
    NAME,
    batch_name,
    check_batch_id,
    map_state,
    parse_name,
    read_state,
    snapshot_from_body,
)
from batchwork_prefect.providers.xai.provider import XAIFormat, XAIProvider
from batchwork_prefect.providers.xai.requests import (
    UNSUPPORTED,
    add_body,
    add_wait,
    chunks,
    encode_request,
    output_fields,
    request_params,
)
from batchwork_prefect.providers.xai.results import ERROR_TYPE, parse_result

__all__ = [
    "BATCH_ID_PATTERN",
    "CHUNK_BYTES",
    "DEFAULT_BASE_URL",
    "ERROR_TYPE",
    "FILL_INTERRUPTED",
    "LIMITS",
    "NAME",
    "UNSUPPORTED",
    "XAIFormat",
    "XAIProvider",
    "add_body",
    "add_wait",
    "batch_name",
    "check_batch_id",
    "chunks",
    "encode_request",
    "map_state",
    "output_fields",
    "parse_name",
    "parse_result",
    "read_state",
    "request_params",
    "snapshot_from_body",
]
