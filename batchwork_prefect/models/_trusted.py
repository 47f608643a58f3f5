"""Instances of pydantic models built from values a parser has already checked."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)


def trusted(
    model: type[ModelT], values: dict[str, Any], fields_set: set[str] | None = None
) -> ModelT:
    """An instance built from values already checked by a parser, skipping validation.

    The hot path of result reading and request building: like `model_construct`, but
    `values` must name every field, so there are no defaults to resolve. `fields_set` are
    the fields given explicitly (default: all).
    """
    instance = model.__new__(model)
    set_attribute = object.__setattr__
    set_attribute(instance, "__dict__", values)
    set_attribute(
        instance, "__pydantic_fields_set__", set(values) if fields_set is None else fields_set
    )
    set_attribute(instance, "__pydantic_extra__", None)
    set_attribute(instance, "__pydantic_private__", None)
    return instance


def trusted_given(model: type[ModelT], given: dict[str, Any]) -> ModelT:
    """`trusted` for values that name only the fields given: those count as set, and every
    other field takes its default (a required one missing raises `TypeError`)."""
    values: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name in given:
            values[name] = given[name]
        elif field.is_required():
            raise TypeError(f"{model.__name__}.{name} is required")
        else:
            values[name] = field.get_default(call_default_factory=True)
    return trusted(model, values, set(given))
