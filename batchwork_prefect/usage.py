"""Token usage of one result, or of many added up: the counts every provider's usage maps to."""

from __future__ import annotations

import functools
from typing import Annotated, Any

import msgspec
from pydantic import GetCoreSchemaHandler, TypeAdapter
from pydantic_core import core_schema

_Count = Annotated[int, msgspec.Meta(ge=0)]

USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)


class Usage(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Token usage of one result, or of many added up.

    A compact C-level struct, decoded straight from a results line: 100,000 of them cost
    a few megabytes. It validates and serializes like a pydantic model (`model_dump`,
    `model_dump_json`, `model_validate`) and works as a field of pydantic models.
    """

    input_tokens: _Count = 0
    output_tokens: _Count = 0
    cache_creation_input_tokens: _Count = 0
    cache_read_input_tokens: _Count = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=(
                self.cache_creation_input_tokens + other.cache_creation_input_tokens
            ),
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    def model_dump(self, **options: Any) -> dict[str, int]:
        """The four counts as a dict (pydantic's options are accepted and change nothing)."""
        return {name: getattr(self, name) for name in USAGE_FIELDS}

    def model_dump_json(self, **options: Any) -> str:
        """The four counts as a JSON object."""
        return msgspec.json.encode(self).decode()

    @classmethod
    def model_validate(cls, obj: Any) -> Usage:
        """A `Usage` from a `Usage` or a mapping of its counts; raises `ValidationError`."""
        return _usage_adapter().validate_python(obj)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        counts = core_schema.typed_dict_schema(
            {
                name: core_schema.typed_dict_field(core_schema.int_schema(ge=0), required=False)
                for name in USAGE_FIELDS
            }
        )
        from_counts = core_schema.no_info_after_validator_function(lambda d: cls(**d), counts)
        return core_schema.json_or_python_schema(
            json_schema=from_counts,
            python_schema=core_schema.union_schema(
                [core_schema.is_instance_schema(cls), from_counts]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(
                cls.model_dump, return_schema=counts
            ),
        )


@functools.cache
def _usage_adapter() -> TypeAdapter[Usage]:
    return TypeAdapter(Usage)
