"""Gemini's Batch API (the Gemini Developer API): its batch operations (`batches`), its
requests (`requests`), its results (`results`) and the provider over the shared transport
(`provider`)."""

from batchwork_prefect.providers.gemini.batches import (
    API_VERSION,
    BATCH_NAME_PATTERN,
    DEFAULT_BASE_URL,
    DISPLAY_NAME_PATTERN,
    FILE_NAME_PATTERN,
    INLINE_MAX_BYTES,
    LIMITS,
    NAME,
    check_batch_id,
    check_file_name,
    display_name,
    map_counts,
    map_state,
    snapshot_from_body,
)
from batchwork_prefect.providers.gemini.provider import (
    API_KEY_ENVS,
    BASE_URL_ENV,
    GeminiFormat,
    GeminiProvider,
    settle_counts,
)
from batchwork_prefect.providers.gemini.requests import (
    MAX_STOP,
    REQUEST_FIELDS,
    encode_request,
    inline_entry,
    output_fields,
    request_params,
)
from batchwork_prefect.providers.gemini.results import (
    FAILED_TYPE,
    REFUSED_REASONS,
    inline_lines,
    parse_result_line,
    undone,
    unrun_results,
    usage,
)

__all__ = [
    "API_KEY_ENVS",
    "API_VERSION",
    "BASE_URL_ENV",
    "BATCH_NAME_PATTERN",
    "DEFAULT_BASE_URL",
    "DISPLAY_NAME_PATTERN",
    "FAILED_TYPE",
    "FILE_NAME_PATTERN",
    "INLINE_MAX_BYTES",
    "LIMITS",
    "MAX_STOP",
    "NAME",
    "REFUSED_REASONS",
    "REQUEST_FIELDS",
    "GeminiFormat",
    "GeminiProvider",
    "check_batch_id",
    "check_file_name",
    "display_name",
    "encode_request",
    "inline_entry",
    "inline_lines",
    "map_counts",
    "map_state",
    "output_fields",
    "parse_result_line",
    "request_params",
    "settle_counts",
    "snapshot_from_body",
    "undone",
    "unrun_results",
    "usage",
]
