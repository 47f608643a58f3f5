"""Structured output: the schema a request asks for, the shape checks of that field, and
the emulated answer (a deterministic schema-conforming JSON document, or a marked
off-schema one).

Anthropic asks with ``output_config.format = {type: json_schema, schema}``; OpenAI with
``response_format = {type: json_schema, json_schema: {name, schema, strict}}``. The answer
markers (optionally ``:x<N>``) are a family apart from the outcome markers: they shape a
succeeded answer. ``off_schema`` and ``not_json`` only shape a structured one (elsewhere they
are prompt text); ``refusal`` and ``max_tokens`` shape any (see ``_replies``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, cast

import orjson

ApiName = Literal["anthropic", "openai"]
JSONObject = dict[str, object]

AnswerKind = Literal["off_schema", "not_json", "refusal", "max_tokens"]
# The kinds that shape a reply without structured output too.
STOP_KINDS = ("refusal", "max_tokens")
_ANSWER_MARKER_RE = re.compile(
    r"\[\[emulate:(off_schema|not_json|refusal|max_tokens)(?::x([1-9][0-9]*))?\]\]"
)
_NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
RESPONSE_FORMAT_TYPES = ("text", "json_object", "json_schema")
STRING_FORMATS: dict[str, str] = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "emulated@example.com",
    "hostname": "example.com",
    "uri": "https://example.com/",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


@dataclass(frozen=True, slots=True)
class AnswerMarker:
    """A parsed answer marker; ``times`` None means every submission."""

    kind: AnswerKind
    times: int | None

    def applies(self, submission: int) -> bool:
        """Whether the marker shapes the ``submission``-th (1-based) submission."""
        return self.times is None or submission <= self.times


def parse_answer_marker(texts: list[str], structured: bool = True) -> AnswerMarker | None:
    """The first well-formed answer marker in ``texts`` that applies to the request: any
    kind for a ``structured`` one, else only ``refusal`` and ``max_tokens``."""
    for text in texts:
        for match in _ANSWER_MARKER_RE.finditer(text):
            kind = cast(AnswerKind, match.group(1))
            if structured or kind in STOP_KINDS:
                count = match.group(2)
                return AnswerMarker(kind, None if count is None else int(count))
    return None


def requested_schema(params: JSONObject, api: ApiName) -> JSONObject | None:
    """The JSON schema a (shape-checked) request asks its answer to follow, if any.

    An OpenAI ``json_schema`` format without a ``schema`` asks for any JSON (``{}``), and
    JSON mode (``json_object``) for any object."""
    if api == "anthropic":
        config = params.get("output_config")
        fmt = config.get("format") if isinstance(config, dict) else None
        schema = fmt.get("schema") if isinstance(fmt, dict) else None
        return schema if isinstance(schema, dict) else None
    response_format = params.get("response_format")
    if not isinstance(response_format, dict):
        return None
    if response_format.get("type") == "json_object":
        return {"type": "object"}
    if response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        return None
    given = spec.get("schema", {})
    return given if isinstance(given, dict) else None


def output_config_error(params: JSONObject) -> str | None:
    """The Anthropic validation message for a malformed ``output_config``, if any."""
    if "output_config" not in params or params["output_config"] is None:
        return None
    config = params["output_config"]
    if not isinstance(config, dict):
        return "output_config: Input should be a valid dictionary"
    fmt = config.get("format")
    if fmt is None:
        return None
    where = "output_config.format"
    if not isinstance(fmt, dict):
        return f"{where}: Input should be a valid dictionary"
    if "type" not in fmt:
        return f"{where}.type: Field required"
    if fmt["type"] != "json_schema":
        return f"{where}.type: Input should be 'json_schema'"
    if "schema" not in fmt:
        return f"{where}.schema: Field required"
    if not isinstance(fmt["schema"], dict):
        return f"{where}.schema: Input should be a valid dictionary"
    return None


def response_format_error(body: JSONObject) -> tuple[str, str, str] | None:
    """``(code, param, message)`` of OpenAI's 400 for a malformed ``response_format``."""
    if "response_format" not in body or body["response_format"] is None:
        return None
    value = body["response_format"]
    if not isinstance(value, dict):
        return _wrong_type("response_format", "an object", value)
    kind = value.get("type")
    if "type" not in value:
        return _missing("response_format.type")
    if kind not in RESPONSE_FORMAT_TYPES:
        listed = "', '".join(RESPONSE_FORMAT_TYPES)
        return (
            "invalid_value",
            "response_format.type",
            f"Invalid value: '{kind}'. Supported values are: '{listed}'.",
        )
    if kind != "json_schema":
        return None
    spec = value.get("json_schema")
    if spec is None:
        return _missing("response_format.json_schema")
    if not isinstance(spec, dict):
        return _wrong_type("response_format.json_schema", "an object", spec)
    if "name" not in spec:
        return _missing("response_format.json_schema.name")
    name = spec["name"]
    if not isinstance(name, str):
        return _wrong_type("response_format.json_schema.name", "a string", name)
    if _NAME_RE.fullmatch(name) is None:
        return (
            "invalid_value",
            "response_format.json_schema.name",
            f"Invalid 'response_format.json_schema.name': string does not match pattern."
            f" Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$' of at most 64"
            f" characters, but got '{name}' instead.",
        )
    if "schema" in spec and not isinstance(spec["schema"], dict):
        return _wrong_type("response_format.json_schema.schema", "an object", spec["schema"])
    strict = spec.get("strict")
    if strict is not None and not isinstance(strict, bool):
        return _wrong_type("response_format.json_schema.strict", "a boolean", strict)
    return None


def _missing(param: str) -> tuple[str, str, str]:
    return "missing_required_parameter", param, f"Missing required parameter: '{param}'."


def _wrong_type(param: str, expected: str, value: object) -> tuple[str, str, str]:
    return (
        "invalid_type",
        param,
        f"Invalid type for '{param}': expected {expected}, but got {json_kind(value)} instead.",
    )


def structured_answer(schema: JSONObject, text: str, marker: AnswerMarker | None) -> str:
    """The answer's text: the conforming document, or what an applying marker asks for.

    ``off_schema``: the conforming document inside a JSON array (fails any object-rooted
    schema). ``not_json``: the conforming document's first ``len // 2`` characters. Other
    kinds leave the document whole (``_replies`` cuts it or replaces it)."""
    document = orjson.dumps(conforming_instance(schema, text)).decode()
    kind = None if marker is None else marker.kind
    if kind == "off_schema":
        return "[" + document + "]"
    if kind == "not_json":
        return document[: len(document) // 2]
    return document


class _Cycle(Exception):
    """A ``$ref`` re-entered on the current path: this branch cannot end."""


def conforming_instance(schema: JSONObject, text: str) -> object:
    """A deterministic instance of ``schema`` whose plain strings are ``text``."""
    try:
        return _Generator(schema, text).value(schema, ())
    except _Cycle:
        return None


class _Generator:
    def __init__(self, root: JSONObject, text: str) -> None:
        self.root = root
        self.text = text

    def value(self, node: object, refs: tuple[str, ...]) -> object:
        if not isinstance(node, dict):
            return None
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in refs:
                raise _Cycle
            return self.value(self._resolve(ref), (*refs, ref))
        if "const" in node:
            return node["const"]
        enum = node.get("enum")
        if isinstance(enum, list) and enum:
            return enum[0]
        for key in ("anyOf", "oneOf"):
            options = node.get(key)
            if isinstance(options, list) and options:
                return self._first_option(options, refs)
        parts = node.get("allOf")
        if isinstance(parts, list) and parts:
            return self._all_of(parts, refs)
        return self._typed(node, _type_of(node), refs)

    def _typed(self, node: JSONObject, kind: str | None, refs: tuple[str, ...]) -> object:
        if kind == "object":
            return self._object(node, refs)
        if kind == "array":
            return self._array(node, refs)
        if kind == "string":
            return self._string(node)
        if kind == "integer":
            return math.ceil(_lowest(node, 1))
        if kind == "number":
            return float(_lowest(node, 0.5))
        if kind == "boolean":
            return True
        return None

    def _resolve(self, ref: str) -> object:
        node: object = self.root
        if not ref.startswith("#"):
            return None
        for part in ref[1:].split("/")[1:]:
            if not isinstance(node, dict):
                return None
            node = node.get(part.replace("~1", "/").replace("~0", "~"))
        return node

    def _first_option(self, options: list[object], refs: tuple[str, ...]) -> object:
        nullable = any(_type_of(option) == "null" for option in options)
        for option in options:
            if _type_of(option) == "null":
                continue
            try:
                return self.value(option, refs)
            except _Cycle:
                continue
        if nullable:
            return None
        raise _Cycle

    def _all_of(self, parts: list[object], refs: tuple[str, ...]) -> object:
        values = [self.value(part, refs) for part in parts]
        if all(isinstance(item, dict) for item in values):
            merged: JSONObject = {}
            for item in values:
                assert isinstance(item, dict)
                merged.update(item)
            return merged
        return values[0]

    def _object(self, node: JSONObject, refs: tuple[str, ...]) -> JSONObject:
        properties = node.get("properties")
        required = node.get("required")
        needed = set(required) if isinstance(required, list) else set()
        result: JSONObject = {}
        if isinstance(properties, dict):
            for name, sub in properties.items():
                try:
                    result[name] = self.value(sub, refs)
                except _Cycle:
                    if name in needed:
                        raise
        return result

    def _array(self, node: JSONObject, refs: tuple[str, ...]) -> list[object]:
        prefix = node.get("prefixItems")
        if isinstance(prefix, list):
            return [self.value(item, refs) for item in prefix]
        low = node.get("minItems")
        high = node.get("maxItems")
        count = max(1, low if isinstance(low, int) else 0)
        if isinstance(high, int):
            count = min(count, high)
        if count == 0:
            return []
        try:
            item = self.value(node.get("items", {}), refs)
        except _Cycle:
            if isinstance(low, int) and low > 0:
                raise
            return []
        return [item] * count

    def _string(self, node: JSONObject) -> str:
        fmt = node.get("format")
        if isinstance(fmt, str) and fmt in STRING_FORMATS:
            return STRING_FORMATS[fmt]
        text = self.text
        high = node.get("maxLength")
        if isinstance(high, int):
            text = text[:high]
        low = node.get("minLength")
        if isinstance(low, int) and len(text) < low:
            text += "." * (low - len(text))
        return text


def _type_of(node: object) -> str | None:
    """The node's type: the first non-null one of a type list; else inferred from keywords."""
    if not isinstance(node, dict):
        return None
    kind = node.get("type")
    if isinstance(kind, list):
        named = [item for item in kind if isinstance(item, str)]
        non_null = [item for item in named if item != "null"]
        return non_null[0] if non_null else ("null" if named else None)
    if isinstance(kind, str):
        return kind
    if "properties" in node:
        return "object"
    if "items" in node or "prefixItems" in node:
        return "array"
    return None


def _lowest(node: JSONObject, step: float) -> float:
    """The smallest allowed number near 0: 0 unless a bound excludes it."""
    value: float = 0
    minimum = node.get("minimum")
    if isinstance(minimum, (int, float)) and not isinstance(minimum, bool):
        value = max(value, minimum)
    low = node.get("exclusiveMinimum")
    if isinstance(low, (int, float)) and not isinstance(low, bool) and value <= low:
        value = low + step
    maximum = node.get("maximum")
    if isinstance(maximum, (int, float)) and not isinstance(maximum, bool) and value > maximum:
        value = maximum
    high = node.get("exclusiveMaximum")
    if isinstance(high, (int, float)) and not isinstance(high, bool) and value >= high:
        value = high - step
    return value


def json_kind(value: object) -> str:
    """How OpenAI names a JSON value's type in its messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
