"""Mistral's Batch API: its job objects (`batches`), its chat completion requests
(`requests`), its output and error file lines (`results`) and the provider over the shared
transport (`provider`)."""

from batchwork_prefect.providers.mistral.batches import (
    DEFAULT_BASE_URL,
    ENDPOINT,
    LIMITS,
    METADATA_DIGEST,
    METADATA_REQUESTS,
    NAME,
    TIMEOUT_HOURS,
    UUID_PATTERN,
    check_batch_id,
    check_file_id,
    map_counts,
    map_status,
    snapshot_from_body,
)
from batchwork_prefect.providers.mistral.provider import MistralFormat, MistralProvider
from batchwork_prefect.providers.mistral.requests import (
    UNSUPPORTED,
    encode_request,
    mistral_schema,
    output_fields,
    request_params,
)
from batchwork_prefect.providers.mistral.results import input_custom_id, parse_result_line

__all__ = [
    "DEFAULT_BASE_URL",
    "ENDPOINT",
    "LIMITS",
    "METADATA_DIGEST",
    "METADATA_REQUESTS",
    "NAME",
    "TIMEOUT_HOURS",
    "UNSUPPORTED",
    "UUID_PATTERN",
    "MistralFormat",
    "MistralProvider",
    "check_batch_id",
    "check_file_id",
    "encode_request",
    "input_custom_id",
    "map_counts",
    "map_status",
    "mistral_schema",
    "output_fields",
    "parse_result_line",
    "request_params",
    "snapshot_from_body",
]
