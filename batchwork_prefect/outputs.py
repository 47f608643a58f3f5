"""Typed batches: an output type (a pydantic model or a JSON schema) and the validation of
each answer against it into `BatchResult.parsed`. Pure; the wire forms are the providers'."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MethodType
from typing import Any

import msgspec
import orjson
import pydantic
import pydantic_core
from pydantic import BaseModel

from batchwork_prefect.errors import InvalidBatchError
from batchwork_prefect.models import BatchResult, BatchResults, ResultError, ResultStatus

INVALID_OUTPUT = "invalid_output"
"""The error type of a typed batch's answer that does not validate against its output type."""

OutputLike = type[BaseModel] | Mapping[str, Any]
"""What `output=` takes: a pydantic model class, or a JSON schema (a dict)."""

_NAME = re.compile(r"[^a-zA-Z0-9_-]")

_CUT = {
    "max_tokens": "the answer was cut by max_tokens before it ended; raise max_tokens",
    "refusal": "the model refused to answer",
}

CONTEXT_WINDOW_EXCEEDED = "model_context_window_exceeded"
"""The error type of a typed answer cut by the model's context window: the prompt is too
long, so it is not `invalid_output` and is never sent again (another answer would be cut too)."""


class OutputType:
    """What a typed batch's answers must be: a pydantic model's instances, or JSON values
    that a JSON schema accepts. Built by `OutputType.of`."""

    __slots__ = ("_validate_json", "_validator", "model", "name", "schema")

    model: type[BaseModel] | None
    """The pydantic model the answers validate into; None for a JSON-schema output."""
    schema: dict[str, Any]
    """The JSON schema the provider is asked for (the model's, for a model)."""
    name: str
    """A name for the schema where a provider needs one: the model's or the schema's title."""

    def __init__(self, model: type[BaseModel] | None, schema: dict[str, Any], name: str) -> None:
        self.model = model
        self.schema = schema
        self.name = name
        self._validator: Any = None
        self._validate_json: Any = None

    @classmethod
    def of(cls, output: OutputType | OutputLike | None) -> OutputType | None:
        """The output type of `output` (None: an untyped batch).

        Raises `InvalidBatchError` for anything else, or a model whose JSON schema cannot be
        made, or a dict that is not a JSON schema.
        """
        if output is None or isinstance(output, OutputType):
            return output
        if isinstance(output, type) and issubclass(output, BaseModel):
            try:
                schema = output.model_json_schema()
            except pydantic.PydanticUserError as exc:
                reason = exc.message
                raise InvalidBatchError(
                    [f"output: {output.__name__} has no JSON schema ({reason}); use JSON types"]
                ) from None
            return cls(output, schema, _name(output.__name__))
        if isinstance(output, Mapping):
            schema = _plain(output)
            problem = _schema_problem(schema)
            if problem:
                raise InvalidBatchError([f"output: {problem}"])
            title = schema.get("title")
            return cls(None, schema, _name(title if isinstance(title, str) else "output"))
        if isinstance(output, type):  # a dataclass, a TypedDict, int: not a pydantic model
            fix = f"the class {output.__name__} is not one; make it a pydantic BaseModel"
        else:
            fix = f"got {type(output).__name__}; pass the class itself, not an instance"
        raise InvalidBatchError(
            [f"output: expected a pydantic model class or a JSON schema (a dict), {fix}"]
        )

    def __repr__(self) -> str:
        what = self.model.__name__ if self.model is not None else "JSON schema"
        return f"OutputType({what})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OutputType):
            return NotImplemented
        return self.model is other.model and self.schema == other.schema

    __hash__ = None  # type: ignore[assignment]

    def parse(self, text: str) -> Any:
        """`text` validated: the model's instance, or the JSON value. Raises `ValueError`
        with the reason when it does not validate."""
        model = self.model
        if model is not None:
            validate = self._validate_json
            if validate is None:
                validate = _json_validator(model)
                if not isinstance(validate, MethodType):  # kept once the model is built
                    self._validate_json = validate
            try:
                return validate(text)
            except pydantic.ValidationError as exc:
                raise ValueError(
                    f"does not fit {model.__name__}: {_pydantic_reason(exc)}"
                ) from None
        try:  # msgspec keeps an integer of any size exactly (orjson makes it a float)
            value = msgspec.json.decode(text)
        except (msgspec.DecodeError, UnicodeEncodeError) as exc:
            raise ValueError(f"not JSON: {exc}") from None
        self.check(value)
        return value

    def load(self, value: Any) -> Any:
        """A persisted answer (plain JSON) as this output type gives it: the model's
        instance, or the value as it is. Raises `ValueError` when it does not validate."""
        model = self.model
        if model is None:
            return value
        if isinstance(value, model):
            return value
        try:
            return model.model_validate(value)
        except pydantic.ValidationError as exc:
            raise ValueError(f"does not fit {model.__name__}: {_pydantic_reason(exc)}") from None

    def check(self, value: Any) -> None:
        """Raise `ValueError` naming the first problems when the schema refuses `value`."""
        validator = self._validator
        if validator is None:
            validator = self._validator = _validator_for(self.schema)
        if validator.is_valid(value):
            return
        problems = [
            f"{'/'.join(map(str, error.instance_path)) or '(root)'}: {error.message}"
            for _, error in zip(range(5), validator.iter_errors(value), strict=False)
        ]
        raise ValueError("does not match the schema: " + "; ".join(problems))


def typed(result: BatchResult, output: OutputType) -> BatchResult:
    """`result` with its answer validated against `output`: `parsed` set, or `errored`
    with an `invalid_output` error (the reason) keeping its text, message and usage.

    Results that did not succeed, and typed ones, are returned as they are. A result whose
    `parsed` was loaded as plain JSON is parsed again from its text, the answer as it came
    (a model's dump need not validate as the model: aliases, strict fields, computed ones).
    """
    if result.status is not ResultStatus.SUCCEEDED:
        return result
    parsed = result.parsed
    if result._stop == CONTEXT_WINDOW_EXCEEDED:
        return result.with_error(
            ResultError.model_construct(
                type=CONTEXT_WINDOW_EXCEEDED,
                message="the answer was cut by the model's context window before it ended; "
                "shorten the prompt",
                request_id=None,
                status_code=None,
            )
        )
    try:
        if parsed is not None:
            if output.model is None or isinstance(parsed, output.model):
                return result
            text = result.text
            return result.with_parsed(output.parse(text) if text else output.load(parsed))
        cut = _CUT.get(result._stop or "")
        if cut is not None:
            raise ValueError(cut)
        text = result.text
        if not text:
            raise ValueError("the answer has no text")
        return result.with_parsed(output.parse(text))
    except ValueError as exc:
        return result.with_error(
            ResultError.model_construct(
                type=INVALID_OUTPUT, message=str(exc), request_id=None, status_code=None
            )
        )


def typed_all(results: Iterable[BatchResult], output: OutputType | None) -> list[BatchResult]:
    """Each of `results` through `typed` (as they are when `output` is None)."""
    if output is None:
        return list(results)
    return [typed(result, output) for result in results]


def typed_read(results: list[BatchResult], output: OutputType | None) -> list[BatchResult]:
    """`typed_all` for results just read, which nothing else holds yet: a valid answer is set
    on its own result rather than on a copy (a copy was a tenth of each answer's cost).
    Anything else (an invalid answer, a cut one, one already parsed) goes through `typed`."""
    if output is None:
        return results
    succeeded = ResultStatus.SUCCEEDED
    parse = output.parse
    for index, result in enumerate(results):
        text = result._text
        if result._status is succeeded and text and result._stop is None and result._parsed is None:
            try:
                result._parsed = parse(text)
                continue
            except ValueError:
                pass  # `typed` makes it errored, with the reason
        results[index] = typed(result, output)
    return results


def typed_results(results: BatchResults, output: OutputType | None) -> BatchResults:
    """`results` with every answer validated against `output` (as they are when None)."""
    if output is None:
        return results
    return BatchResults.model_construct(
        batch_ids=list(results.batch_ids),
        results=typed_all(results.results, output),
        model=results.model,
        replaced_usage=list(results.replaced_usage),
    )


def plain_parsed(parsed: Any) -> Any:
    """A parsed answer as plain JSON values: a model dumped as its schema names its fields
    (by alias), anything else as it is. What tables and the preview show."""
    if isinstance(parsed, BaseModel):
        return parsed.model_dump(mode="json", by_alias=True)
    return parsed


def _name(title: str) -> str:
    """A schema name providers take: letters, digits, '_' and '-', at most 64."""
    return _NAME.sub("_", title)[:64] or "output"


def _plain(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` as plain JSON (a deployment's form may give mappings and tuples)."""
    try:
        plain: dict[str, Any] = orjson.loads(orjson.dumps(schema, default=_mapping))
    except TypeError as exc:
        raise InvalidBatchError([f"output: the schema is not JSON ({exc})"]) from None
    return plain


def _mapping(value: Any) -> dict[str, Any]:
    """A mapping that is not a dict (a read-only view, say) as one; anything else is not JSON."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def _schema_problem(schema: dict[str, Any]) -> str | None:
    """Why `schema` is not a JSON schema that a provider can take; None when it is."""
    if not schema:
        return "an empty schema accepts anything; give the object's properties"
    import jsonschema_rs

    try:  # a $schema of its own is looked up in an empty registry, never fetched
        jsonschema_rs.meta.validate(
            schema, registry=jsonschema_rs.Registry([], retriever=_no_remote)
        )
    except jsonschema_rs.ValidationError as exc:
        where = "/".join(map(str, exc.instance_path)) or "the root"
        return f"not a valid JSON schema: {exc.message} (at {where})"
    except jsonschema_rs.ReferencingError as exc:
        return f"not a usable JSON schema: {exc}"
    try:  # what the meta-schema lets through: a $ref to nothing, a pattern that is no regex
        _validator_for(schema)
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError) as exc:
        reason = getattr(exc, "message", None) or str(exc).partition("\n")[0]
        return f"not a usable JSON schema: {reason}"
    return None


def _json_validator(model: type[BaseModel]) -> Any:
    """`model.model_validate_json`: its built validator's `validate_json` (the same call with
    the same defaults, without the classmethod's keyword passing, a tenth of each answer's
    validation), or the classmethod while the validator is not built (it builds it)."""
    validator = model.__pydantic_validator__
    if isinstance(validator, pydantic_core.SchemaValidator):
        return validator.validate_json
    return model.model_validate_json


def _validator_for(schema: dict[str, Any]) -> Any:
    """The schema's validator, which never fetches a `$ref` from elsewhere."""
    import jsonschema_rs  # only JSON-schema outputs need it

    return jsonschema_rs.validator_for(schema, retriever=_no_remote)


def _no_remote(uri: str) -> Any:
    raise ValueError(f"{uri} is not in the schema, and schemas are not fetched; inline it")


def _pydantic_reason(exc: pydantic.ValidationError) -> str:
    """A validation error in one line: each problem as `field: message`, the first five."""
    problems = []
    for error in exc.errors(include_url=False)[:5]:
        where = ".".join(str(part) for part in error["loc"])
        problems.append(f"{where}: {error['msg']}" if where else error["msg"])
    more = exc.error_count() - len(problems)
    return "; ".join(problems) + (f" (and {more} more)" if more > 0 else "")
