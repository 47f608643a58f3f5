"""Gemini's `GenerateContentRequest`s: the shared fields mapped, typed output, encoded."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import orjson

from batchwork_prefect.models import TYPED_FIELDS, BatchRequest
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers.gemini.batches import MODEL_PATTERN

MAX_STOP = 5
"""`generationConfig.stopSequences` takes at most 5 sequences."""

REQUEST_FIELDS = frozenset(
    {
        "systemInstruction",
        "tools",
        "toolConfig",
        "safetySettings",
        "generationConfig",
        "cachedContent",
    }
)
"""The `GenerateContentRequest` fields `params` (and raw `defaults`) may set; `contents` and
`model` come from the request and the batch. Anything else is refused before sending."""

_TYPED_IN_CONFIG = {
    "max_tokens": "maxOutputTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "stop_sequences": "stopSequences",
}
_OUTPUT_KEYS = ("responseMimeType", "responseSchema", "responseJsonSchema")
_ROLES = {"user": "user", "assistant": "model", "model": "model"}
_NATIVE_TOOL_KEYS = frozenset(
    {
        "functionDeclarations",
        "googleSearch",
        "googleSearchRetrieval",
        "codeExecution",
        "urlContext",
        "fileSearch",
        "googleMaps",
        "computerUse",
    }
)


def output_fields(output: OutputType, model: str = "") -> dict[str, Any]:
    """The request fields that ask for answers of `output`: `generationConfig` with
    `responseMimeType: application/json` and `responseJsonSchema`, the output type's JSON
    schema as pydantic gives it (the google-genai SDK sends `response_json_schema`
    unchanged: `_transformers.t_json_schema`). Answers are validated against it on reading."""
    return {
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseJsonSchema": copy.deepcopy(output.schema),
        }
    }


def request_params(
    model: str,
    request: BatchRequest,
    defaults: Mapping[str, Any],
    output: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `GenerateContentRequest` for one request.

    Each names its model (`models/<model>`): the create's URL takes it from there.
    Precedence as for every provider: `defaults` < `params` < typed fields. `prompt` becomes
    one `user` content, `messages` become `contents` (`assistant` as `model`; text blocks as
    text parts; a message given with `parts` passes as it is), `system` the
    `systemInstruction`, `max_tokens`/`temperature`/`top_p`/`top_k`/`stop_sequences` the
    `generationConfig`'s `maxOutputTokens`/`temperature`/`topP`/`topK`/`stopSequences`,
    Anthropic- or OpenAI-shaped `tools` one `functionDeclarations` tool (Gemini tools pass
    as they are), `tool_choice` the `toolConfig`. Raises `ValueError` naming the fix for what
    Gemini cannot take.
    """
    problems = [
        f"defaults.{name}: {_raw_problem(name)}"
        for name in defaults
        if name not in TYPED_FIELDS and name not in REQUEST_FIELDS
    ]
    problems += [
        f"params.{name}: {_raw_problem(name)}"
        for name in request.params
        if name not in REQUEST_FIELDS
    ]
    if problems:
        raise ValueError("; ".join(problems))
    body: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    for name, value in defaults.items():
        if name in TYPED_FIELDS:
            typed[name] = value
        else:
            body[name] = value
    body.update(request.params)
    fields, given = request.__dict__, request.model_fields_set
    for name in TYPED_FIELDS:
        if name in given and fields[name] is not None:
            typed[name] = fields[name]
    if request.prompt is not None:
        contents: list[Any] = [{"role": "user", "parts": [{"text": request.prompt}]}]
    else:
        contents = [_content(index, one) for index, one in enumerate(request.messages or ())]
    mapped: dict[str, Any] = {"model": f"models/{_model(model)}", "contents": contents}
    config = body.pop("generationConfig", None)
    if config is not None and not isinstance(config, Mapping):
        raise ValueError("generationConfig: expected an object")
    config = dict(config or {})
    for name in TYPED_FIELDS:  # a fixed order: the encoded bytes feed the content digest
        if name not in typed:
            continue
        value = typed[name]
        if name == "system":
            body["systemInstruction"] = _system(value)
        elif name == "tools":
            body["tools"] = _tools(value)
        elif name == "tool_choice":
            body["toolConfig"] = _tool_config(value)
        elif name == "stop_sequences":
            if len(value) > MAX_STOP:
                raise ValueError(
                    f"stop_sequences: Gemini takes at most {MAX_STOP} stop sequences, "
                    f"not {len(value)}"
                )
            config["stopSequences"] = list(value)
        else:
            config[_TYPED_IN_CONFIG[name]] = value
    if output is not None:
        own = [key for key in _OUTPUT_KEYS if config.get(key) is not None]
        if own:
            raise ValueError(
                f"generationConfig.{own[0]}: the batch's output= sets it, and neither a request "
                "nor defaults may set their own; drop it, or send the requests of each output "
                "type as their own batch"
            )
        config.update(output["generationConfig"])
    mapped.update(body)
    if config:
        mapped["generationConfig"] = config
    return mapped


def _model(model: str) -> str:
    name = model.removeprefix("models/")
    if not MODEL_PATTERN.fullmatch(name):
        raise ValueError(f"model {model!r} is not a Gemini model name (letters, digits, . _ -)")
    return name


def _raw_problem(name: str) -> str:
    if name in ("contents", "model"):
        return "set by the request's prompt or messages and the batch's model; remove it"
    if name == "thinking":
        return (
            "Gemini's thinking is set in generationConfig: "
            "params={'generationConfig': {'thinkingConfig': {'thinkingBudget': ...}}}"
        )
    known = ", ".join(sorted(REQUEST_FIELDS))
    return f"not a GenerateContentRequest field Gemini takes in a batch (known: {known})"


def _text_parts(value: Any, where: str) -> list[dict[str, Any]]:
    """Text, or a list of Anthropic text blocks, as Gemini text parts."""
    if isinstance(value, str):
        return [{"text": value}]
    parts = []
    for index, block in enumerate(value):
        if isinstance(block, Mapping) and block.get("type") == "text" and "text" in block:
            parts.append({"text": block["text"]})
        elif isinstance(block, Mapping) and block.get("type") == "tool_use" and where != "system":
            parts.append({"functionCall": {"name": block.get("name"), "args": block.get("input")}})
        else:
            raise ValueError(
                f"{where}[{index}]: only text blocks ({{'type': 'text', 'text': ...}}) are "
                "mapped to Gemini; give the message as Gemini's {'role', 'parts'} instead"
            )
    return parts


def _content(index: int, message: Mapping[str, Any]) -> dict[str, Any]:
    role = _ROLES.get(message.get("role"))  # type: ignore[arg-type]
    if role is None:
        raise ValueError(
            f"messages[{index}].role: Gemini takes 'user' and 'assistant' (sent as 'model'), "
            f"not {message.get('role')!r}; give a system prompt as system="
        )
    if "parts" in message:
        if set(message) != {"role", "parts"}:
            raise ValueError(f"messages[{index}]: a Gemini content has only 'role' and 'parts'")
        return {"role": role, "parts": message["parts"]}
    if set(message) != {"role", "content"}:
        raise ValueError(
            f"messages[{index}]: expected {{'role', 'content'}} or {{'role', 'parts'}}"
        )
    return {"role": role, "parts": _text_parts(message["content"], f"messages[{index}].content")}


def _system(value: Any) -> dict[str, Any]:
    return {"parts": _text_parts(value, "system")}


def _tools(tools: list[Any]) -> list[dict[str, Any]]:
    """Gemini tools as given; Anthropic- and OpenAI-shaped function tools gathered into one
    `functionDeclarations` tool (placed where the first of them was), their JSON schema as
    `parametersJsonSchema`."""
    declarations: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for index, tool in enumerate(tools):
        if isinstance(tool, Mapping) and tool and set(tool) <= _NATIVE_TOOL_KEYS:
            out.append(dict(tool))
            continue
        declaration = _declaration(index, tool)
        if not declarations:
            out.append({"functionDeclarations": declarations})
        declarations.append(declaration)
    return out


def _declaration(index: int, tool: Any) -> dict[str, Any]:
    if isinstance(tool, Mapping) and tool.get("type") == "function":
        function = tool.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            found = {"name": function["name"]}
            if "description" in function:
                found["description"] = function["description"]
            if "parameters" in function:
                found["parametersJsonSchema"] = function["parameters"]
            return found
    if (
        isinstance(tool, Mapping)
        and tool.get("type", "custom") == "custom"
        and isinstance(tool.get("name"), str)
        and "input_schema" in tool
        and set(tool) <= {"type", "name", "description", "input_schema", "cache_control"}
    ):
        found = {"name": tool["name"]}
        if "description" in tool:
            found["description"] = tool["description"]
        found["parametersJsonSchema"] = tool["input_schema"]
        return found
    raise ValueError(
        f"tools[{index}]: Gemini takes its own tools ({{'functionDeclarations': [...]}}, "
        "{'googleSearch': {}}, ...), or function tools as {'name', 'description', "
        "'input_schema'} or {'type': 'function', 'function': {...}} (converted)"
    )


def _tool_config(choice: Mapping[str, Any]) -> dict[str, Any]:
    if "functionCallingConfig" in choice and set(choice) == {"functionCallingConfig"}:
        return dict(choice)
    if choice.get("disable_parallel_tool_use"):
        raise ValueError("tool_choice.disable_parallel_tool_use: Gemini has no such option")
    kind = choice.get("type")
    if kind in ("auto", "any", "none"):
        return {"functionCallingConfig": {"mode": kind.upper()}}
    if kind == "tool" and isinstance(choice.get("name"), str):
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice["name"]]}}
    raise ValueError(
        "tool_choice: expected {'type': 'auto' | 'any' | 'none'}, {'type': 'tool', 'name': ...} "
        "or Gemini's {'functionCallingConfig': {...}}"
    )


_KEY_HEAD = b'{"key":"'
_REQUEST_HEAD = b'","request":'


def encode_request(custom_id: str, params: Mapping[str, Any]) -> bytes:
    """One line of an input file: `{"key": custom_id, "request": GenerateContentRequest}`.

    Copied to its exact size, as the other providers' entries are."""
    return bytes(memoryview(orjson.dumps({"key": custom_id, "request": params})))


def inline_entry(line: bytes) -> bytes:
    """An input file line as an inline request: `{"request": ..., "metadata": {"key": ...}}`.

    A custom_id is letters, digits, `_` and `-` only, so the key ends at the first quote."""
    end = line.index(_REQUEST_HEAD, len(_KEY_HEAD))
    key = line[len(_KEY_HEAD) : end]
    request = line[end + len(_REQUEST_HEAD) : -1]
    return b'{"request":' + request + b',"metadata":{"key":"' + key + b'"}}'
