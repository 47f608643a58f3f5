"""A typed batch's JSON schema, adapted to what each provider's structured output takes. Pure.

The answers are validated against the original schema (or model) when read, so a constraint
a provider cannot enforce is still checked; what cannot be asked for faithfully is refused.
The adaptations follow the official SDKs: `anthropic.lib._parse._transform.transform_schema`
and `openai.lib._pydantic.to_strict_json_schema` (tests/providers/test_output_schemas.py
compares them).
"""

from __future__ import annotations

import copy
from typing import Any

ANTHROPIC_STRING_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)
"""The string formats Anthropic's structured outputs enforce; others become a description."""

_ANTHROPIC_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})


def anthropic_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` as Anthropic's `output_config.format.schema` takes it: every object closed
    (`additionalProperties: false`), unsupported keywords moved into the description."""
    _refuse_open_objects(schema, "")
    return _anthropic(copy.deepcopy(schema))


def openai_strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` as OpenAI's strict structured output takes it: the root an object, every
    object closed and with every property required (an optional field becomes one the model
    always gives), a `$ref` with other keywords inlined."""
    if _root_type(schema) != "object":
        raise ValueError(
            "OpenAI's structured output needs an object at the root; wrap the value in a "
            "model (or schema) with one field"
        )
    _refuse_open_objects(schema, "")
    root = copy.deepcopy(schema)
    return _strict(root, root)


def _refuse_open_objects(schema: Any, where: str) -> None:
    """Refuse a free-form object (`additionalProperties` true or a schema, or
    `patternProperties`: a dict field): neither provider can ask for one, and closing it
    would change what the model may say."""
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            _refuse_open_objects(item, f"{where}/{index}")
        return
    if not isinstance(schema, dict):
        return
    extra = schema.get("additionalProperties")
    keyword = "patternProperties" if schema.get("patternProperties") else "additionalProperties"
    # an object that names no properties and does not close itself takes any keys
    bare = _is_object(schema) and "properties" not in schema and extra is None
    if (extra is not None and extra is not False) or keyword == "patternProperties" or bare:
        raise ValueError(
            f"{where or '/'} is a free-form object ({keyword}); structured output "
            "asks for fixed properties only: give it named fields (a model) instead of a dict"
        )
    for key, value in schema.items():
        if key in _NAMED_SCHEMAS and isinstance(value, dict):
            # names (a field called `default` or `additionalProperties`), not keywords
            for name, one in value.items():
                _refuse_open_objects(one, f"{where}/{key}/{name}")
        elif key not in _VALUES:
            _refuse_open_objects(value, f"{where}/{key}")


_NAMED_SCHEMAS = frozenset({"properties", "$defs", "definitions", "dependentSchemas"})
"""Keywords whose value maps names to schemas."""
_VALUES = frozenset({"enum", "const", "default", "examples"})
"""Keywords whose value is JSON data, not a schema."""


def _root_type(schema: dict[str, Any]) -> Any:
    """The root's `type`, through a root `$ref` (a recursive model's schema has one)."""
    ref = schema.get("$ref")
    if "type" not in schema and isinstance(ref, str):
        try:
            return _resolved(schema, ref).get("type")
        except ValueError:
            return None
    return schema.get("type")


def _is_object(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind)


def _anthropic(schema: dict[str, Any]) -> dict[str, Any]:
    """The SDK's `transform_schema`, on a copy of its input."""
    kinds = schema.get("type")
    if isinstance(kinds, list):  # `"type": [a, b]` is each of them: an anyOf, kept whole
        if not kinds or not all(isinstance(one, str) for one in kinds):
            raise ValueError(f"a schema part's type list is not JSON types: {kinds!r}")
        rest = {key: value for key, value in schema.items() if key != "type"}
        return _anthropic({"anyOf": [{**rest, "type": one} for one in kinds]})
    out: dict[str, Any] = {}
    defs = schema.pop("$defs", None)
    if isinstance(defs, dict):
        out["$defs"] = {name: _anthropic(dict(one)) for name, one in defs.items()}
    ref = schema.pop("$ref", None)
    if ref is not None:
        out["$ref"] = ref
        if "description" in schema:
            out["description"] = schema["description"]
        return out
    kind = schema.pop("type", None)
    any_of = schema.pop("anyOf", None)
    one_of = schema.pop("oneOf", None)
    all_of = schema.pop("allOf", None)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and all(_primitive(value) for value in enum):
        out["enum"] = list(schema.pop("enum"))
    if "const" in schema and _primitive(schema["const"]):
        out["const"] = schema.pop("const")
    literal = "enum" in out or "const" in out
    if literal:
        kind = None
    if isinstance(any_of, list):
        out["anyOf"] = [_anthropic(dict(variant)) for variant in any_of]
    elif isinstance(one_of, list):
        out["anyOf"] = [_anthropic(dict(variant)) for variant in one_of]
    elif isinstance(all_of, list):
        out["allOf"] = [_anthropic(dict(variant)) for variant in all_of]
    elif not literal:
        if kind not in _ANTHROPIC_TYPES:
            raise ValueError(
                f"a schema part has no single JSON type ({kind!r}); give each part a 'type', "
                "an 'anyOf', or an 'enum'/'const'"
            )
        out["type"] = kind
    for key in ("description", "title"):
        if key in schema:
            out[key] = schema.pop(key)
    if kind == "object":
        out["properties"] = {
            name: _anthropic(dict(one)) for name, one in schema.pop("properties", {}).items()
        }
        schema.pop("additionalProperties", None)
        out["additionalProperties"] = False
        if "required" in schema:
            out["required"] = list(schema.pop("required"))
    elif kind == "string":
        form = schema.pop("format", None)
        if form in ANTHROPIC_STRING_FORMATS:
            out["format"] = form
        elif form:
            schema["format"] = form
    elif kind == "array":
        items = schema.pop("items", None)
        if items is not None:
            out["items"] = _anthropic(dict(items))
        least = schema.pop("minItems", None)
        if least in (0, 1):
            out["minItems"] = least
        elif least is not None:
            schema["minItems"] = least
    if schema:  # what Anthropic does not enforce, said to the model (and checked on reading)
        said = ", ".join(f"{key}: {value}" for key, value in schema.items())
        described = out.get("description")
        out["description"] = (f"{described}\n\n" if described is not None else "") + f"{{{said}}}"
    return out


def _strict(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """The SDK's `_ensure_strict_json_schema`, in place."""
    for key in ("$defs", "definitions"):
        defs = schema.get(key)
        if isinstance(defs, dict):
            for one in defs.values():
                _strict(one, root)
    if _is_object(schema) and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    properties = schema.get("properties")
    if isinstance(properties, dict):
        schema["required"] = list(properties)
        schema["properties"] = {name: _strict(one, root) for name, one in properties.items()}
    items = schema.get("items")
    if isinstance(items, dict):
        schema["items"] = _strict(items, root)
    any_of = schema.get("anyOf")
    if isinstance(any_of, list):
        schema["anyOf"] = [_strict(variant, root) for variant in any_of]
    all_of = schema.get("allOf")
    if isinstance(all_of, list):
        if len(all_of) == 1:
            schema.update(_strict(all_of[0], root))
            schema.pop("allOf")
        else:
            schema["allOf"] = [_strict(entry, root) for entry in all_of]
    if "default" in schema and schema["default"] is None:
        schema.pop("default")  # still nullable; the model gives null where it would default
    ref = schema.get("$ref")
    if isinstance(ref, str) and len(schema) > 1:  # strict mode takes no keyword beside a $ref
        schema.update({**_resolved(root, ref), **schema})
        schema.pop("$ref")
        return _strict(schema, root)
    return schema


def _resolved(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"$ref {ref!r} is not local (#/...); inline what it names")
    found: Any = root
    for key in ref[2:].split("/"):
        if not isinstance(found, dict) or key not in found:
            raise ValueError(f"$ref {ref!r} names nothing in the schema")
        found = found[key]
    if not isinstance(found, dict):
        raise ValueError(f"$ref {ref!r} does not name a schema")
    return copy.deepcopy(found)


def _primitive(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
