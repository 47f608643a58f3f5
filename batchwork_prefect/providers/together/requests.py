"""Together's chat completions requests: the shared fields mapped, typed output, encoded.

Together's `/v1/chat/completions` takes OpenAI's message, tool and `response_format`
shapes, and keeps `max_tokens` and `top_k` under those names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from batchwork_prefect.models import TYPED_FIELDS, BatchRequest
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers.openai.requests import _tool, _tool_choice

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
    """The chat completions body for one request.

    Precedence as for every provider: `defaults` < `params` < typed fields. `system`
    becomes a leading system message, `prompt` a user message (`messages` pass as given),
    `max_tokens`, `temperature`, `top_p` and `top_k` keep their names, `stop_sequences` is
    sent as `stop`, Anthropic-shaped `tools` and `tool_choice` take OpenAI's forms. Raises
    `ValueError` naming the fix for what Together cannot take (`thinking`, `stream`, a
    conflicting `model`, ...).
    """
    problems = [
        f"defaults.{name}: {UNSUPPORTED[name]}"
        for name in defaults
        if name in UNSUPPORTED and name not in TYPED_FIELDS
    ]
    problems += [
        f"params.{name}: {UNSUPPORTED[name]}" for name in request.params if name in UNSUPPORTED
    ]
    if problems:
        raise ValueError("; ".join(problems))
    body: dict[str, Any] = {"model": model}
    typed_defaults: dict[str, Any] = {}
    for name, value in defaults.items():
        if name in TYPED_FIELDS:
            typed_defaults[name] = value
        else:
            body[name] = value
    _map_typed(body, typed_defaults)
    body.update(request.params)
    fields, given = request.__dict__, request.model_fields_set
    typed = {
        name: fields[name] for name in TYPED_FIELDS if name in given and fields[name] is not None
    }
    _map_typed(body, typed)
    system = typed.get("system", typed_defaults.get("system"))
    if request.prompt is not None:
        messages: list[Any] = [{"role": "user", "content": request.prompt}]
    else:
        messages = list(request.messages or ())
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    body["messages"] = messages
    if body["model"] != model:
        raise ValueError(f"model {body['model']!r} conflicts with the batch model {model!r}")
    if body.get("stream"):
        raise ValueError("stream=True is not supported in batches")
    if output is not None:
        if body.get("response_format") is not None:
            raise ValueError(
                "response_format: the batch's output= sets it, and neither a request nor "
                "defaults may set their own; drop it, or send the requests of each output type "
                "as their own batch"
            )
        body["response_format"] = output["response_format"]
    return body


def _map_typed(body: dict[str, Any], typed: Mapping[str, Any]) -> None:
    """Typed fields as Together's fields, in `TYPED_FIELDS` order (the digest's)."""
    for name in TYPED_FIELDS:
        if name not in typed or name == "system":
            continue
        value = typed[name]
        if name == "stop_sequences":
            body["stop"] = list(value)
        elif name == "tools":
            body["tools"] = [_tool(index, tool) for index, tool in enumerate(value)]
        elif name == "tool_choice":
            _tool_choice(body, value)
        else:  # max_tokens, temperature, top_p, top_k: the same names
            body[name] = value


def encode_request(custom_id: str, params: Mapping[str, Any]) -> bytes:
    """One line of the input file: `{"custom_id", "body"}` (the endpoint is the batch's)."""
    return bytes(memoryview(orjson.dumps({"custom_id": custom_id, "body": params})))
