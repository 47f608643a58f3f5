"""OpenAI's Chat Completions requests: Anthropic-shaped fields mapped, typed output, encoded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from batchwork_prefect.models import BatchRequest
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers._chat import ChatDialect
from batchwork_prefect.providers._chat import request_params as chat_request_params
from batchwork_prefect.providers._schemas import openai_strict_schema
from batchwork_prefect.providers.openai.batches import ENDPOINT

MAX_STOP = 4
"""Chat Completions takes at most 4 stop sequences."""

UNSUPPORTED = {
    "top_k": "OpenAI has no top_k; remove it (top_p is nucleus sampling)",
    "thinking": "OpenAI has no thinking option; for reasoning models pass "
    "params={'reasoning_effort': 'low' | 'medium' | 'high'}",
    "stop_sequences": "give stop sequences as the stop_sequences field (sent as 'stop'), "
    "not in params or defaults as a raw field",
    "system": "give the system prompt as the system field, not as a raw field in params",
    "container": "an Anthropic-only field; remove it",
    "mcp_servers": "an Anthropic-only field; remove it",
}
"""Fields an OpenAI request cannot carry, with the fix: refused before anything is sent."""

DIALECT = ChatDialect(
    "OpenAI",
    UNSUPPORTED,
    max_tokens_field="max_completion_tokens",
    max_stop=MAX_STOP,
    any_tool="required",
)
"""`max_tokens` is sent as `max_completion_tokens`: OpenAI has deprecated `max_tokens` for
Chat Completions and its reasoning models refuse it."""


def output_fields(output: OutputType, *, strict: bool = True) -> dict[str, Any]:
    """The request fields that ask for answers of `output`: `response_format`, a strict
    JSON schema (where `strict`, the model's tokens are held to it).

    Raises `ValueError` for a schema strict mode cannot carry faithfully."""
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": output.name,
                "schema": openai_strict_schema(output.schema),
                "strict": strict,
            },
        }
    }


def request_params(
    model: str,
    request: BatchRequest,
    defaults: Mapping[str, Any],
    output: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Chat Completions body for one request (`_chat.request_params` in OpenAI's
    dialect): `max_tokens` is sent as `max_completion_tokens`, at most 4 stop sequences,
    `tool_choice` `any` as `required`; `top_k` and `thinking` are refused."""
    return chat_request_params(DIALECT, model, request, defaults, output)


def encode_request(custom_id: str, params: Mapping[str, Any]) -> bytes:
    """One line of the input file: `{"custom_id", "method", "url", "body"}`.

    Copied to its exact size, as Anthropic's entries are (orjson's buffer is larger).
    """
    line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": params}
    return bytes(memoryview(orjson.dumps(line)))
