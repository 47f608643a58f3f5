"""Chat Completions request bodies as OpenAI, Mistral, Together and xAI take them: the shared
fields mapped by one function, each API's differences in its `ChatDialect`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from batchwork_prefect.models import TYPED_FIELDS, BatchRequest


@dataclass(frozen=True)
class ChatDialect:
    """Where one API's Chat Completions body differs from the others'."""

    label: str
    """The API's name as messages give it (`OpenAI`, `Mistral`)."""
    unsupported: Mapping[str, str]
    """Fields its requests cannot carry, with the fix: refused before anything is sent.
    `top_k` here means the API has none; otherwise it is sent under that name."""
    max_tokens_field: str = "max_tokens"
    """The name `max_tokens` is sent under (OpenAI's is `max_completion_tokens`)."""
    max_stop: int | None = None
    """The most stop sequences it takes, where it says."""
    any_tool: str = "any"
    """What `tool_choice: {"type": "any"}` is sent as (OpenAI's is `required`)."""


def request_params(
    dialect: ChatDialect,
    model: str,
    request: BatchRequest,
    defaults: Mapping[str, Any],
    output: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Chat Completions body for one request, in `dialect`.

    Precedence as for every provider: `defaults` < `params` < typed fields. Typed fields
    (in `defaults` too) map to the API's names: `system` becomes a leading system message,
    `prompt` a user message (`messages` pass as given), `stop_sequences` is sent as `stop`,
    Anthropic-shaped `tools` and `tool_choice` as their function forms. Raises `ValueError`
    naming the fix for what the API cannot take (`stream`, a conflicting `model`, ...).
    """
    unsupported = dialect.unsupported
    # Typed fields in defaults are mapped like the request's own, except top_k where the
    # API has none; params are raw fields, so another API's names are refused there.
    problems = [
        f"defaults.{name}: {unsupported[name]}"
        for name in defaults
        if name in unsupported and (name not in TYPED_FIELDS or name == "top_k")
    ]
    problems += [
        f"params.{name}: {unsupported[name]}" for name in request.params if name in unsupported
    ]
    if request.top_k is not None and "top_k" in unsupported:
        problems.append(f"top_k: {unsupported['top_k']}")
    if problems:
        raise ValueError("; ".join(problems))
    body: dict[str, Any] = {"model": model}
    typed_defaults: dict[str, Any] = {}
    for name, value in defaults.items():
        if name in TYPED_FIELDS:
            typed_defaults[name] = value
        else:
            body[name] = value
    _map_typed(dialect, body, typed_defaults)
    body.update(request.params)
    fields, given = request.__dict__, request.model_fields_set
    typed = {
        name: fields[name] for name in TYPED_FIELDS if name in given and fields[name] is not None
    }
    _map_typed(dialect, body, typed)
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


def _map_typed(dialect: ChatDialect, body: dict[str, Any], typed: Mapping[str, Any]) -> None:
    """Typed fields as the API's fields, in `TYPED_FIELDS` order (the digest's)."""
    for name in TYPED_FIELDS:
        if name not in typed or name == "system":
            continue
        if name == "top_k" and "top_k" in dialect.unsupported:
            continue
        value = typed[name]
        if name == "max_tokens":
            body[dialect.max_tokens_field] = value
        elif name == "stop_sequences":
            if dialect.max_stop is not None and len(value) > dialect.max_stop:
                raise ValueError(
                    f"stop_sequences: {dialect.label} takes at most {dialect.max_stop} stop "
                    f"sequences, not {len(value)}"
                )
            body["stop"] = list(value)
        elif name == "tools":
            body["tools"] = [
                function_tool(dialect, index, tool) for index, tool in enumerate(value)
            ]
        elif name == "tool_choice":
            _tool_choice(dialect, body, value)
        else:  # temperature, top_p (and top_k where it is taken): the same name
            body[name] = value


_TOOL_KEYS = {"type", "name", "description", "input_schema", "strict", "cache_control"}


def function_tool(dialect: ChatDialect, index: int, tool: Any) -> dict[str, Any]:
    """A function tool as given, or an Anthropic custom tool in the function shape."""
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
        f"tools[{index}]: {dialect.label} takes function tools: {{'type': 'function', "
        "'function': {'name', 'description', 'parameters'}}, or {'name', 'description', "
        "'input_schema'} (converted); server tools of other providers cannot be sent"
    )


def _tool_choice(dialect: ChatDialect, body: dict[str, Any], choice: Mapping[str, Any]) -> None:
    kind = choice.get("type")
    if kind == "function":
        body["tool_choice"] = dict(choice)
        return
    if kind in ("auto", "none"):
        body["tool_choice"] = kind
    elif kind == "any":
        body["tool_choice"] = dialect.any_tool
    elif kind == "tool" and isinstance(choice.get("name"), str):
        body["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise ValueError(
            "tool_choice: expected {'type': 'auto' | 'any' | 'none'}, {'type': 'tool', "
            f"'name': ...}} or {dialect.label}'s {{'type': 'function', 'function': "
            "{'name': ...}}"
        )
    if choice.get("disable_parallel_tool_use"):
        body["parallel_tool_calls"] = False
