"""Together's chat completions requests: the shared fields mapped, typed output, encoded.

Together's `/v1/chat/completions` takes OpenAI's message, tool and `response_format`
shapes, and keeps `max_tokens` and `top_k` under those names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from batchwork_prefect.models import BatchRequest
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers._chat import ChatDialect
from batchwork_prefect.providers._chat import request_params as chat_request_params

UNSUPPORTED = {
    "thinking": "Together has no thinking option; pass its own reasoning fields in params "
    "(e.g. params={'reasoning_effort': 'low'} where the model takes it)",
    "stop_sequences": "give stop sequences as the stop_sequences field (sent as 'stop'), "
    "not in params or defaults as a raw field",
    "system": "give the system prompt as the system field, not as a raw field in params",
    "container": "an Anthropic-only field; remove it",
    "mcp_servers": "an Anthropic-only field; remove it",
}
"""Fields a Together request cannot carry, with the fix: refused before anything is sent."""

DIALECT = ChatDialect("Together", UNSUPPORTED, any_tool="required")
"""OpenAI's shapes, with `max_tokens` and `top_k` under their own names."""


def output_fields(output: OutputType) -> dict[str, Any]:
    """`response_format` for `output`: Together's structured outputs, the JSON schema as
    given (Together constrains decoding to the schema; it documents no strict flag)."""
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": output.name, "schema": output.schema},
        }
    }


def request_params(
    model: str,
    request: BatchRequest,
    defaults: Mapping[str, Any],
    output: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The chat completions body for one request (`_chat.request_params` in Together's
    dialect): `max_tokens`, `temperature`, `top_p` and `top_k` keep their names, tools and
    `tool_choice` take OpenAI's forms; `thinking` is refused."""
    return chat_request_params(DIALECT, model, request, defaults, output)


def encode_request(custom_id: str, params: Mapping[str, Any]) -> bytes:
    """One line of the input file: `{"custom_id", "body"}` (the endpoint is the batch's)."""
    return bytes(memoryview(orjson.dumps({"custom_id": custom_id, "body": params})))
