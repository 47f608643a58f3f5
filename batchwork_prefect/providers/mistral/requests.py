"""Mistral's chat completion requests: the shared fields mapped, typed output, encoded."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson

from batchwork_prefect.models import BatchRequest
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers._chat import ChatDialect
from batchwork_prefect.providers._chat import request_params as chat_request_params
from batchwork_prefect.providers._schemas import _refuse_open_objects

UNSUPPORTED = {
    "top_k": "Mistral has no top_k; remove it (top_p is nucleus sampling)",
    "thinking": "Mistral has no thinking option; for reasoning models pass "
    "params={'reasoning_effort': 'high' | 'none'}",
    "stop_sequences": "give stop sequences as the stop_sequences field (sent as 'stop'), "
    "not in params or defaults as a raw field",
    "system": "give the system prompt as the system field, not as a raw field in params",
    "seed": "Mistral's seed is random_seed: pass params={'random_seed': ...}",
    "max_completion_tokens": "Mistral's limit is max_tokens: give it as the max_tokens field",
    "container": "an Anthropic-only field; remove it",
    "mcp_servers": "an Anthropic-only field; remove it",
}
"""Fields a Mistral request cannot carry, with the fix: refused before anything is sent."""

DIALECT = ChatDialect("Mistral", UNSUPPORTED)
"""`max_tokens` keeps its name, and `tool_choice` `any` is Mistral's own `any`."""


def mistral_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` as the mistralai SDK's `response_format_from_pydantic_model` sends it: every
    object closed (`additionalProperties: false`), nothing else changed. A free-form object
    is refused (closing it would change what the model may say)."""
    _refuse_open_objects(schema, "")
    closed: dict[str, Any] = _closed(copy.deepcopy(schema))
    return closed


def _closed(node: Any) -> Any:
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") == "object":
        node["additionalProperties"] = False
    for key, value in node.items():
        if key not in ("enum", "const", "default", "examples"):
            node[key] = _closed(value)
    return node


def output_fields(output: OutputType) -> dict[str, Any]:
    """`response_format` asking for answers of `output`: a strict JSON schema, as the
    SDK's helper builds it. Raises `ValueError` for a schema it cannot carry faithfully."""
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": output.name,
                "schema": mistral_schema(output.schema),
                "strict": True,
            },
        }
    }


def request_params(
    model: str,
    request: BatchRequest,
    defaults: Mapping[str, Any],
    output: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The chat completion body for one request (`_chat.request_params` in Mistral's
    dialect): `max_tokens`, `temperature` and `top_p` keep their names, `tool_choice` `any`
    stays `any`; the body names its model too (the job names it as well)."""
    return chat_request_params(DIALECT, model, request, defaults, output)


def encode_request(custom_id: str, params: Mapping[str, Any]) -> bytes:
    """One line of the input file: `{"custom_id", "body"}` (Mistral's lines name no method
    or URL: the job's `endpoint` says where they go). Copied to its exact size."""
    return bytes(memoryview(orjson.dumps({"custom_id": custom_id, "body": params})))
