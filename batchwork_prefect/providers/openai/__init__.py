"""OpenAI's Batch API (Chat Completions): its batch objects (`batches`), its requests
(`requests`), its output and error file lines (`results`), the provider over the shared
transport (`provider`), and Groq's, the same API under another base URL and key (`groq`)."""

from batchwork_prefect.providers._files import FAILED_TYPE, describe_problem, unrun_results
from batchwork_prefect.providers.openai.batches import (
    BATCH_ID_PATTERN,
    COMPLETION_WINDOW,
    DEFAULT_BASE_URL,
    ENDPOINT,
    FILE_ID_PATTERN,
    LIMITS,
    METADATA_DIGEST,
    METADATA_REQUESTS,
    NAME,
    check_batch_id,
    check_file_id,
    map_counts,
    map_status,
    settle_counts,
    snapshot_from_body,
)
from batchwork_prefect.providers.openai.groq import (
    GROQ_BASE_URL,
    GROQ_STRICT_MODELS,
    GroqFormat,
    GroqProvider,
)
from batchwork_prefect.providers.openai.provider import OpenAIFormat, OpenAIProvider
from batchwork_prefect.providers.openai.requests import (
    MAX_STOP,
    UNSUPPORTED,
    encode_request,
    output_fields,
    request_params,
)
from batchwork_prefect.providers.openai.results import (
    completion_of_line,
    input_custom_id,
    parse_result_line,
)

__all__ = [
    "BATCH_ID_PATTERN",
    "COMPLETION_WINDOW",
    "DEFAULT_BASE_URL",
    "ENDPOINT",
    "FAILED_TYPE",
    "FILE_ID_PATTERN",
    "GROQ_BASE_URL",
    "GROQ_STRICT_MODELS",
    "LIMITS",
    "MAX_STOP",
    "METADATA_DIGEST",
    "METADATA_REQUESTS",
    "NAME",
    "UNSUPPORTED",
    "GroqFormat",
    "GroqProvider",
    "OpenAIFormat",
    "OpenAIProvider",
    "check_batch_id",
    "check_file_id",
    "completion_of_line",
    "describe_problem",
    "encode_request",
    "input_custom_id",
    "map_counts",
    "map_status",
    "output_fields",
    "parse_result_line",
    "request_params",
    "settle_counts",
    "snapshot_from_body",
    "unrun_results",
]
