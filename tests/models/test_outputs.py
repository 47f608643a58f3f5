"""Typed batches, pure: `OutputType.of` (what `output=` takes, and what it refuses), an
answer parsed or loaded against it, and `typed` turning each result into a parsed one or an
`invalid_output` error that keeps what the provider said."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field, create_model

from batchwork_prefect import BatchResult, BatchResults, InvalidBatchError, ResultError, Usage
from batchwork_prefect.models import ResultStatus
from batchwork_prefect.outputs import (
    INVALID_OUTPUT,
    OutputType,
    typed,
    typed_all,
    typed_read,
    typed_results,
)


class Capital(BaseModel):
    city: str
    population: int = Field(ge=0)
    notes: str | None = None


CAPITAL_SCHEMA: dict[str, Any] = {
    "title": "Capital answer",
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 0}},
    "required": ["city", "population"],
}


@dataclasses.dataclass
class Point:
    x: int


USAGE = Usage(input_tokens=12, output_tokens=7)
MESSAGE = {"id": "msg_1", "content": [{"type": "text", "text": "x"}]}


def _model() -> OutputType:
    output = OutputType.of(Capital)
    assert output is not None
    return output


def _schema() -> OutputType:
    output = OutputType.of(CAPITAL_SCHEMA)
    assert output is not None
    return output


def _answer(text: str | None, stop: str | None = None) -> BatchResult:
    return BatchResult.decoded(
        "fr", ResultStatus.SUCCEEDED, "msgbatch_1", MESSAGE, None, text, USAGE, stop=stop
    )


# OutputType.of


def test_a_model_is_its_own_output_type() -> None:
    output = _model()
    assert output.model is Capital
    assert output.schema == Capital.model_json_schema()
    assert output.name == "Capital"
    assert OutputType.of(output) is output
    assert OutputType.of(None) is None  # an untyped batch
    assert output == OutputType.of(Capital) and output != _schema()
    assert repr(output) == "OutputType(Capital)"


def test_a_dict_schema_is_taken_as_plain_json_named_by_its_title() -> None:
    given_schema = {**CAPITAL_SCHEMA, "required": ("city", "population")}  # a form's tuple
    output = OutputType.of(given_schema)
    assert output is not None and output.model is None
    assert output.schema == CAPITAL_SCHEMA  # the tuple as a list
    assert output.name == "Capital_answer"  # what OpenAI's name takes
    assert repr(output) == "OutputType(JSON schema)"
    untitled = OutputType.of({"type": "object", "properties": {}})
    assert untitled is not None and untitled.name == "output"
    read_only = {**CAPITAL_SCHEMA, "properties": MappingProxyType(CAPITAL_SCHEMA["properties"])}
    viewed = OutputType.of(MappingProxyType(read_only))
    assert viewed is not None and viewed.schema == CAPITAL_SCHEMA


REFUSED = {  # what output= is given: what the refusal says
    "instance": (Capital(city="P", population=1), "got Capital; pass the class itself, not an"),
    "not a model": (int, r"\(a dict\), the class int is not one; make it a pydantic BaseModel$"),
    "dataclass": (Point, "the class Point is not one; make it a pydantic BaseModel"),
    "string": ("Capital", "got str"),
    "list": ([CAPITAL_SCHEMA], "got list"),
    "type foo": ({"type": "foo"}, "not a valid JSON schema: .* \\(at type\\)"),
    "empty": ({}, "an empty schema accepts anything; give the object's properties"),
    "bad required": ({"type": "object", "required": "a"}, "not a valid JSON .*\\(at required"),
    "set in it": ({"type": "object", "x": {1, 2}}, "the schema is not JSON"),
    "ref to nothing": ({"$ref": "#/$defs/No"}, "not a usable JSON schema: Pointer '/\\$defs/No'"),
    "bad regex": ({"type": "string", "pattern": "(unclosed"}, "not a usable JSON schema: .*regex"),
    "remote ref": ({"$ref": "https://example.com/c.json"}, "schemas are not fetched; inline it"),
}


@pytest.mark.parametrize(("output", "message"), REFUSED.values(), ids=REFUSED.keys())
def test_what_is_not_an_output_type_is_refused_naming_the_fix(output: Any, message: str) -> None:
    with pytest.raises(InvalidBatchError, match=message) as caught:
        OutputType.of(output)
    assert caught.value.problems[0].startswith("output: ")


def test_a_model_without_a_json_schema_is_refused() -> None:
    class Hook(BaseModel):
        call: Callable[[], None]

    with pytest.raises(
        InvalidBatchError, match=r"Hook has no JSON schema \(Cannot .*\); use JSON types$"
    ):
        OutputType.of(Hook)


# parse and load


def test_parse_gives_the_models_instance_or_the_json_value() -> None:
    assert _model().parse('{"city": "Paris", "population": 2}') == Capital(
        city="Paris", population=2
    )
    assert _schema().parse('{"city": "Paris", "population": 2}') == {
        "city": "Paris",
        "population": 2,
    }


@pytest.mark.parametrize(
    ("text", "model_reason", "schema_reason"),
    [
        ('{"city": "Par', "does not fit Capital: Invalid JSON", "not JSON: "),
        ("Paris", "does not fit Capital: Invalid JSON", "not JSON: "),
        (
            '[{"city": "Paris", "population": 2}]',
            "does not fit Capital: Input should be an object",
            'does not match the schema: \\(root\\): .* is not of type "object"',
        ),
        (
            '{"city": "Paris", "population": "many"}',
            "does not fit Capital: population: Input should be a valid integer",
            'does not match the schema: population: "many" is not of type "integer"',
        ),
        (
            '{"city": "Paris", "population": -1}',
            "does not fit Capital: population: Input should be greater than or equal to 0",
            "does not match the schema: population: -1 is less than the minimum of 0",
        ),
        (
            '{"population": 2}',
            "does not fit Capital: city: Field required",
            'does not match the schema: \\(root\\): "city" is a required property',
        ),
    ],
    ids=["cut", "prose", "array", "wrong type", "constraint", "missing"],
)
def test_parse_names_the_problem(text: str, model_reason: str, schema_reason: str) -> None:
    with pytest.raises(ValueError, match=model_reason):
        _model().parse(text)
    with pytest.raises(ValueError, match=schema_reason):
        _schema().parse(text)


def test_parse_names_at_most_five_problems() -> None:
    many: Any = create_model("Many", **{name: (int, ...) for name in "abcdefg"})
    output = OutputType.of(many)
    assert output is not None
    with pytest.raises(
        ValueError, match=r"^does not fit Many: a: Input should be a valid integer"
    ) as five:
        output.parse('{"a": "x"}')
    assert str(five.value).endswith("; e: Field required (and 2 more)")
    assert "f: " not in str(five.value)


def test_a_json_schema_answer_keeps_an_integer_of_any_size_exactly() -> None:
    big = 2**100 + 1
    text = f'{{"city": "Paris", "population": {big}}}'
    assert _schema().parse(text) == {"city": "Paris", "population": big}
    results = BatchResults(batch_ids=["b1"], results=[typed(_answer(text), _schema())])
    loaded = BatchResults.model_validate_json(results.model_dump_json())
    assert loaded["fr"].parsed["population"] == big and loaded == results


def test_load_makes_a_persisted_answer_the_models_instance_again() -> None:
    output = _model()
    loaded = output.load({"city": "Paris", "population": 2})
    assert loaded == Capital(city="Paris", population=2)
    assert output.load(loaded) is loaded
    with pytest.raises(ValueError, match="does not fit Capital: city: Field required"):
        output.load({"population": 2})
    value = {"anything": "kept"}
    assert _schema().load(value) is value  # a JSON-schema answer is its JSON


# typed


def test_a_valid_answer_is_parsed_and_keeps_everything_else() -> None:
    result = typed(_answer('{"city": "Paris", "population": 2}'), _model())
    assert result.status is ResultStatus.SUCCEEDED and result.error is None
    assert result.parsed == Capital(city="Paris", population=2)
    assert isinstance(result.parsed, Capital)
    assert (result.text, result.usage, result.message, result.batch_id) == (
        '{"city": "Paris", "population": 2}',
        USAGE,
        MESSAGE,
        "msgbatch_1",
    )
    as_dict = typed(_answer('{"city": "Paris", "population": 2}'), _schema())
    assert as_dict.parsed == {"city": "Paris", "population": 2}


@pytest.mark.parametrize("output", [_model(), _schema()], ids=["model", "schema"])
@pytest.mark.parametrize(
    ("text", "stop", "reason"),
    [
        ('{"city": "Par', None, "Invalid JSON|not JSON"),
        ('[{"city": "Paris", "population": 2}]', None, "object"),
        ("", None, "the answer has no text"),
        (None, None, "the answer has no text"),
        ('{"city": "Paris", "population": 2}', "max_tokens", "cut by max_tokens.*raise max_tokens"),
        ('{"city": "Par', "max_tokens", "cut by max_tokens"),
        ("I can't help with that.", "refusal", "the model refused to answer"),
        ('{"city": "Paris", "population": 2}', "refusal", "the model refused to answer"),
    ],
    ids=["not json", "off schema", "empty", "no text", "cut", "cut short", "refused", "refused+"],
)
def test_an_answer_that_does_not_fit_is_invalid_output_keeping_what_was_said(
    output: OutputType, text: str | None, stop: str | None, reason: str
) -> None:
    answer = _answer(text, stop)
    result = typed(answer, output)
    assert result.status is ResultStatus.ERRORED and result.parsed is None
    assert result.error is not None and result.error.type == INVALID_OUTPUT == "invalid_output"
    assert result.error.status_code is None and result.error.request_id is None
    assert re.search(reason, result.error.message), result.error.message
    assert result.text == text and result.usage == USAGE and result.message == MESSAGE
    assert (result.custom_id, result.batch_id, result.attempts) == ("fr", "msgbatch_1", 1)
    assert answer.status is ResultStatus.SUCCEEDED  # the one read is left as it was


@pytest.mark.parametrize("stop", [None, "end_turn", "stop_sequence", "tool_use"])
def test_other_stop_reasons_do_not_matter(stop: str | None) -> None:
    result = typed(_answer('{"city": "Paris", "population": 2}', stop), _model())
    assert result.status is ResultStatus.SUCCEEDED and isinstance(result.parsed, Capital)


@pytest.mark.parametrize(
    "result",
    [
        BatchResult(
            custom_id="fr",
            status="errored",
            error=ResultError(type="api_error", message="m"),
            text="{}",
        ),
        BatchResult(custom_id="fr", status="expired"),
        BatchResult(custom_id="fr", status="canceled"),
    ],
    ids=["errored", "expired", "canceled"],
)
def test_a_result_that_did_not_succeed_is_left_as_it_is(result: BatchResult) -> None:
    assert typed(result, _model()) is result
    assert typed(result, _schema()) is result


def test_an_already_typed_result_is_left_as_it_is() -> None:
    parsed = typed(_answer('{"city": "Paris", "population": 2}'), _model())
    assert typed(parsed, _model()) is parsed
    as_dict = typed(_answer('{"city": "Paris", "population": 2}'), _schema())
    assert typed(as_dict, _schema()) is as_dict


def test_an_answer_loaded_as_plain_json_is_validated_into_the_model() -> None:
    stored = typed(_answer('{"city": "Paris", "population": 2}'), _model())
    loaded = BatchResult.model_validate_json(stored.model_dump_json())
    assert loaded.parsed == {"city": "Paris", "population": 2, "notes": None}
    again = typed(loaded, _model())
    assert isinstance(again.parsed, Capital) and again == stored
    assert again.parsed == Capital(city="Paris", population=2)
    assert typed(loaded, _schema()) is loaded  # a JSON-schema output keeps the JSON
    bad = BatchResult(custom_id="fr", status="succeeded", text="{}", parsed={"city": 1})
    refused = typed(bad, _model())
    assert refused.status is ResultStatus.ERRORED and refused.error is not None
    assert refused.error.type == INVALID_OUTPUT and "does not fit Capital" in refused.error.message


def test_a_models_answer_by_its_aliases_loads_back_from_either_json() -> None:
    class Aliased(BaseModel):
        city: str = Field(alias="cityName")

    output = OutputType.of(Aliased)
    assert output is not None
    answered = typed(_answer('{"cityName": "Paris"}'), output)
    assert answered.parsed == Aliased(cityName="Paris")
    results = BatchResults(batch_ids=["b1"], results=[answered])
    for loaded in (
        BatchResult.model_validate_json(answered.model_dump_json()),
        BatchResults.model_validate_json(results.model_dump_json())["fr"],
        BatchResults.model_validate_json(results.model_dump_json(indent=1))["fr"],
    ):
        assert loaded.parsed == {"cityName": "Paris"}  # the answer's own shape
        assert typed(loaded, output) == answered


def test_typed_results_is_the_same_object_when_untyped() -> None:
    results = BatchResults(
        batch_ids=["b1"], results=[_answer('{"city": "Paris", "population": 2}')], model="m/x"
    )
    assert typed_results(results, None) is results
    answers = [_answer("x")]
    assert typed_all(answers, None) == answers


def test_typed_results_types_each_and_keeps_the_batch_ids_and_model() -> None:
    results = BatchResults(
        batch_ids=["b1", "b2"],
        results=[
            _answer('{"city": "Paris", "population": 2}'),
            BatchResult(custom_id="jp", status="expired"),
            BatchResult.decoded("pe", ResultStatus.SUCCEEDED, "b2", None, None, "Lima", USAGE),
        ],
        model="anthropic/claude-x",
    )
    out = typed_results(results, _model())
    assert out.batch_ids == ["b1", "b2"] and out.model == "anthropic/claude-x"
    assert [r.status for r in out.values()] == ["succeeded", "expired", "errored"]
    assert out["fr"].parsed == Capital(city="Paris", population=2)
    assert out["pe"].error is not None and out["pe"].error.type == INVALID_OUTPUT
    assert results["pe"].status is ResultStatus.SUCCEEDED  # the given results are unchanged


# any answer: parsed or invalid_output, never an exception

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(["city", "population", "notes", "x"]) | st.text(), inner)
    ),
    max_leaves=12,
)


def _settled(result: BatchResult, output: OutputType) -> None:
    if result.status is ResultStatus.SUCCEEDED:
        assert result.parsed is not None and result.error is None
        if output.model is not None:
            assert isinstance(result.parsed, output.model)
        else:
            output.check(result.parsed)
    else:
        assert result.status is ResultStatus.ERRORED and result.parsed is None
        assert result.error is not None and result.error.type == INVALID_OUTPUT
        assert result.error.message
    assert result.usage == USAGE


@given(value=JSON)
def test_any_json_answer_is_parsed_or_invalid_output(value: Any) -> None:
    text = orjson.dumps(value).decode()
    for output in (_model(), _schema()):
        _settled(typed(_answer(text), output), output)


@given(
    city=st.text(),
    population=st.integers(min_value=0, max_value=2**63 - 1),
    notes=st.none() | st.text(),
)
def test_any_answer_of_the_right_shape_is_parsed_to_what_it_says(
    city: str, population: int, notes: str | None
) -> None:
    text = orjson.dumps({"city": city, "population": population, "notes": notes}).decode()
    result = typed(_answer(text), _model())
    assert result.parsed == Capital(city=city, population=population, notes=notes)
    assert typed(_answer(text), _schema()).parsed == orjson.loads(text)


@given(text=st.text(), stop=st.sampled_from([None, "max_tokens", "refusal", "end_turn"]))
def test_any_text_is_parsed_or_invalid_output(text: str, stop: str | None) -> None:
    for output in (_model(), _schema()):
        result = typed(_answer(text, stop), output)
        _settled(result, output)
        if stop in ("max_tokens", "refusal"):
            assert result.status is ResultStatus.ERRORED


def test_a_loaded_answer_is_parsed_again_from_its_text_whatever_the_model_dumps() -> None:
    # a model whose dump does not validate as itself: an alias read one way, written another
    from pydantic import AliasChoices, ConfigDict, Field

    class Odd(BaseModel):
        model_config = ConfigDict(strict=True)
        city: str = Field(validation_alias=AliasChoices("town"), serialization_alias="where")

    output = OutputType.of(Odd)
    assert output is not None
    fresh = typed(BatchResult(custom_id="a", status="succeeded", text='{"town": "Paris"}'), output)
    assert isinstance(fresh.parsed, Odd) and fresh.parsed.city == "Paris"
    loaded = BatchResults.model_validate_json(BatchResults(results=[fresh]).model_dump_json())
    again = typed(loaded["a"], output)
    assert again.status is ResultStatus.SUCCEEDED and again.parsed == fresh.parsed


@given(
    texts=st.lists(
        st.sampled_from(['{"city": "Paris", "population": 2}', '{"city": 1}', "", "[]"])
        | st.text(),
        max_size=6,
    ),
    stop=st.sampled_from([None, "max_tokens", "refusal", "end_turn"]),
)
def test_typed_read_gives_what_typed_gives_for_each_result(
    texts: list[str], stop: str | None
) -> None:
    for output in (_model(), _schema()):
        read = [_answer(text, stop) for text in texts]
        read.append(BatchResult(custom_id="x", status="expired"))
        expected = [typed(result, output) for result in read]
        got = typed_read(list(read), output)
        assert [result.model_dump() for result in got] == [
            result.model_dump() for result in expected
        ]
        for result in got:
            if result.status is not ResultStatus.EXPIRED:
                _settled(result, output)


def test_typed_read_sets_a_valid_answer_on_the_result_read() -> None:
    read = [_answer('{"city": "Paris", "population": 2}'), _answer('{"city": 1}')]
    first, second = read
    got = typed_read(read, _model())
    assert got[0] is first and first.parsed == Capital(city="Paris", population=2)
    assert got[1] is not second and second.status is ResultStatus.SUCCEEDED
    assert got[1].error is not None and got[1].error.type == INVALID_OUTPUT
    assert typed_read(read, None) is read


def test_a_model_built_on_first_use_validates_as_its_classmethod_does() -> None:
    from pydantic import ConfigDict

    class Late(BaseModel):
        model_config = ConfigDict(defer_build=True)
        city: str
        population: int = Field(ge=0)

    output = OutputType(Late, {"type": "object"}, "Late")  # its schema never asked for
    for _ in range(2):  # before its validator is built, then after
        assert output.parse('{"city": "Paris", "population": 2}') == Late(
            city="Paris", population=2
        )
        with pytest.raises(ValueError, match="does not fit Late: population: Input should be"):
            output.parse('{"city": "Paris", "population": -1}')
