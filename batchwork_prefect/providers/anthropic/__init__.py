"""Anthropic's Message Batches API: its wire format (`wire`), its results lines (`results`)
and the provider over the shared transport (`provider`)."""

from batchwork_prefect.providers.anthropic.provider import AnthropicProvider
from batchwork_prefect.providers.anthropic.results import message_of_line, parse_result_line
from batchwork_prefect.providers.anthropic.wire import (
    API_VERSION,
    BATCH_ID_PATTERN,
    BATCHES_PATH,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_TOKENS,
    LIMITS,
    NAME,
    AnthropicFormat,
    check_batch_id,
    encode_request,
    map_status,
    output_fields,
    request_params,
    snapshot_from_body,
)

__all__ = [
    "API_VERSION",
    "BATCHES_PATH",
    "BATCH_ID_PATTERN",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_TOKENS",
    "LIMITS",
    "NAME",
    "AnthropicFormat",
    "AnthropicProvider",
    "check_batch_id",
    "encode_request",
    "map_status",
    "message_of_line",
    "output_fields",
    "parse_result_line",
    "request_params",
    "snapshot_from_body",
]
