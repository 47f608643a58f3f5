"""Together's Batch API: its batch objects (`batches`), requests (`requests`), output and
error file lines (`results`), and the provider over the shared transport (`provider`)."""

from batchwork_prefect.providers.together.batches import (
    BATCH_ID_PATTERN,
    COMPLETION_WINDOW,
    DEFAULT_BASE_URL,
    ENDPOINT,
    FILE_ID_PATTERN,
    LIMITS,
    NAME,
    PURPOSE,
    check_batch_id,
    check_file_id,
    input_name,
    map_counts,
    map_status,
    read_input_name,
    settled_counts,
    snapshot_from_body,
)
from batchwork_prefect.providers.together.provider import TogetherFormat, TogetherProvider
from batchwork_prefect.providers.together.requests import (
    UNSUPPORTED,
    encode_request,
    output_fields,
    request_params,
)
from batchwork_prefect.providers.together.results import REQUEST_FAILED, parse_result_line

__all__ = [
    "BATCH_ID_PATTERN",
    "COMPLETION_WINDOW",
    "DEFAULT_BASE_URL",
    "ENDPOINT",
    "FILE_ID_PATTERN",
    "LIMITS",
    "NAME",
    "PURPOSE",
    "REQUEST_FAILED",
    "UNSUPPORTED",
    "TogetherFormat",
    "TogetherProvider",
    "check_batch_id",
    "check_file_id",
    "encode_request",
    "input_name",
    "map_counts",
    "map_status",
    "output_fields",
    "parse_result_line",
    "read_input_name",
    "request_params",
    "settled_counts",
    "snapshot_from_body",
]
