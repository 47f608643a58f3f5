"""A ``GenerateContentRequest`` read as the shared machinery's Messages-shaped params.

The markers, the emulated reply and structured answers read ``messages``/``system``/
``max_tokens``/``output_config`` (Anthropic's shape); this maps Gemini's ``contents``
(role ``user``/``model``, ``parts[].text``), ``systemInstruction``,
``generationConfig.maxOutputTokens`` and ``generationConfig.responseJsonSchema`` (or the
OpenAPI-style ``responseSchema``, its upper-case type names lowered) onto them. The
original request stays beside it for the hooks (``reply_text`` and the like get it).
"""

from __future__ import annotations

import re
from typing import Any

JSON_MIME = "application/json"
_UPPER = re.compile(r"[A-Z]")


def field(message: dict[str, Any], name: str) -> Any:
    """``message[name]`` by its lowerCamelCase ``name`` or its snake_case spelling: proto3
    JSON parsers take both (google-genai itself sends some fields snake_case)."""
    if name in message:
        return message[name]
    return message.get(_UPPER.sub(lambda upper: "_" + upper.group().lower(), name))


def parts_text(content: object) -> str:
    """The ``text`` parts of a ``Content`` joined by newlines (other parts are skipped)."""
    if not isinstance(content, dict):
        return ""
    parts = content.get("parts")
    if not isinstance(parts, list):
        return ""
    texts = [
        part["text"]
        for part in parts
        if isinstance(part, dict) and isinstance(part.get("text"), str) and not part.get("thought")
    ]
    return "\n".join(texts)


def as_messages(request: dict[str, Any]) -> dict[str, Any]:
    """The Messages-shaped view of ``request`` (see the module docstring)."""
    contents = request.get("contents")
    messages = [
        {
            "role": "assistant" if content.get("role") == "model" else "user",
            "content": parts_text(content),
        }
        for content in (contents if isinstance(contents, list) else [])
        if isinstance(content, dict)
    ]
    params: dict[str, Any] = {"messages": messages}
    system = parts_text(field(request, "systemInstruction"))
    if system:
        params["system"] = system
    config = field(request, "generationConfig")
    if not isinstance(config, dict):
        return params
    limit = field(config, "maxOutputTokens")
    if isinstance(limit, int) and not isinstance(limit, bool):
        params["max_tokens"] = limit
    schema = requested_schema(config)
    if schema is not None:
        params["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
    return params


def requested_schema(config: dict[str, Any]) -> dict[str, Any] | None:
    """The schema a ``generationConfig`` asks its JSON answer to follow: ``{}`` (any JSON)
    for ``responseMimeType: application/json`` alone, None without that MIME type."""
    if field(config, "responseMimeType") != JSON_MIME:
        return None
    schema = field(config, "responseJsonSchema")
    if isinstance(schema, dict):
        return schema
    openapi = field(config, "responseSchema")
    if isinstance(openapi, dict):
        lowered = _lower_types(openapi)
        return lowered if isinstance(lowered, dict) else {}
    return {}


def _lower_types(node: object) -> object:
    """``responseSchema`` names types ``OBJECT``/``STRING``; JSON Schema names them lower."""
    if isinstance(node, list):
        return [_lower_types(item) for item in node]
    if not isinstance(node, dict):
        return node
    lowered: dict[str, object] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, str):
            lowered[key] = value.lower()
        elif key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            lowered[key] = {name: _lower_types(sub) for name, sub in value.items()}
        else:
            lowered[key] = _lower_types(value) if isinstance(value, (dict, list)) else value
    return lowered
