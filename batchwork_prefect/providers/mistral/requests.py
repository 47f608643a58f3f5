"""Mistral's chat completion requests: the shared fields mapped, typed output, encoded."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson

from batchwork_prefect.models import TYPED_FIELDS, BatchRequest
from batchwork_prefect.outputs import OutputType
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

_TOOL_KEYS = {"type", "name", "description", "input_schema", "strict", "cache_control"}


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
    """The chat completion body for one request.

    Precedence as for every provider: `defaults` < `params` < typed fields. `system` becomes
    a leading system message, `prompt` a user message (`messages` pass as given),
    `max_tokens`, `temperature` and `top_p` keep their names, `stop_sequences` is sent as
    `stop`, Anthropic-shaped `tools` and `tool_choice` as Mistral's function forms. The body
    names its model too (the job names it as well). Raises `ValueError` naming the fix for
    what Mistral cannot take.
    """
    problems = [
        f"defaults.{name}: {UNSUPPORTED[name]}"
        for name in defaults
        if name in UNSUPPORTED and (name not in TYPED_FIELDS or name == "top_k")
    ]
    problems += [
        f"params.{name}: {UNSUPPORTED[name]}" for name in request.params if name in UNSUPPORTED
    ]
    if request.top_k is not None:
        problems.append(f"top_k: {UNSUPPORTED['top_k']}")
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
    """Typed fields as Mistral's fields, in `TYPED_FIELDS` order (the digest's)."""
    for name in TYPED_FIELDS:
        if name not in typed or name in ("system", "top_k"):
            continue
        value = typed[name]
        if name == "stop_sequences":
            body["stop"] = list(value)
        elif name == "tools":
            body["tools"] = [_tool(index, tool) for index, tool in enumerate(value)]
        elif name == "tool_choice":
            _tool_choice(body, value)
        else:  # max_tokens, temperature, top_p: the same name
            body[name] = value


def _tool(index: int, tool: Any) -> dict[str, Any]:
    """A Mistral function tool as given, or an Anthropic custom tool in Mistral's shape."""
    if isinstance(tool, Mapping) and tool.get("type") == "function":
        return dict(tool)
    if (
        isinstance(tool, Mapping)
        and tool.get("type", "custom") == "custom"
        and "name" in tool
        and "input_schema" in tool
        and set(tool) <= _TOOL_KEYS
    ):
        function: dict[str, Any] = {"name": tool["name"]}
        if "description" in tool:
            function["description"] = tool["description"]
        function["parameters"] = tool["input_schema"]
        if "strict" in tool:
            function["strict"] = tool["strict"]
        return {"type": "function", "function": function}
    raise ValueError(
        f"tools[{index}]: Mistral takes function tools: {{'type': 'function', 'function': "
        "{'name', 'description', 'parameters'}}, or {'name', 'description', 'input_schema'} "
        "(converted); server tools of other providers cannot be sent"
    )


def _tool_choice(body: dict[str, Any], choice: Mapping[str, Any]) -> None:
    kind = choice.get("type")
    if kind == "function":
        body["tool_choice"] = dict(choice)
        return
    if kind in ("auto", "none", "any"):
        body["tool_choice"] = kind
    elif kind == "tool" and isinstance(choice.get("name"), str):
        body["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise ValueError(
            "tool_choice: expected {'type': 'auto' | 'any' | 'none'}, {'type': 'tool', "
            "'name': ...} or Mistral's {'type': 'function', 'function': {'name': ...}}"
        )
    if choice.get("disable_parallel_tool_use"):
        body["parallel_tool_calls"] = False


def encode_request(custom_id: str, params: Mapping[str, Any]) -> bytes:
    """One line of the input file: `{"custom_id", "body"}` (Mistral's lines name no method
    or URL: the job's `endpoint` says where they go). Copied to its exact size."""
    return bytes(memoryview(orjson.dumps({"custom_id": custom_id, "body": params})))
