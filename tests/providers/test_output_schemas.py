"""A typed batch's JSON schema in each provider's form, against the official SDKs: ours must
equal `anthropic.lib._parse._transform.transform_schema` and
`openai.lib._pydantic.to_strict_json_schema` for realistic models, and refuse (naming why)
what neither can ask for faithfully: a free-form object (a dict field), a non-object root
for OpenAI."""

from __future__ import annotations

import copy
import datetime
import decimal
import enum
import uuid
from typing import Annotated, Any, Literal

import pytest
from anthropic.lib._parse._transform import transform_schema
from hypothesis import given
from hypothesis import strategies as st
from openai.lib._parsing._completions import type_to_response_format_param
from openai.lib._pydantic import _ensure_strict_json_schema, to_strict_json_schema
from pydantic import BaseModel, ConfigDict, Field

from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers._schemas import anthropic_schema, openai_strict_schema
from batchwork_prefect.providers.openai import output_fields


class Color(enum.StrEnum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    street: str
    city: str = Field(description="The city's name")
    postcode: str | None = None


class Person(BaseModel):
    """A person, as the model read them from the text."""

    name: str = Field(min_length=1, max_length=50)
    age: int = Field(ge=0, le=150)
    email: str | None = Field(default=None, description="Their email, if given")
    tags: list[str] = Field(default_factory=list, min_length=2)
    home: Address = Field(description="Where they live")  # a $ref with a description
    previous: list[Address] = []
    favourite: Color = Color.RED
    priority: Priority = Priority.LOW
    mood: Literal["happy", "sad"]
    pinned: Literal[3] = 3
    score: float = Field(default=0.5, gt=0, lt=1, multiple_of=0.1)
    born: datetime.date | None = None
    seen: datetime.datetime
    id: uuid.UUID
    pair: tuple[int, str]
    maybe_home: Address | None = None


class Invoice(BaseModel):
    class Line(BaseModel):
        sku: str = Field(pattern=r"^[A-Z]{3}-\d+$")
        quantity: int = Field(ge=1)
        unit_price: float

    number: str
    lines: list[Line] = Field(min_length=1, max_length=20)
    paid: bool = False
    notes: str | None = Field(default=None, description="Free text")
    kind: Literal["invoice", "credit"] | None = None
    currency: Literal["EUR", "USD"] = "EUR"


class Sentiment(BaseModel):
    label: Literal["positive", "negative", "neutral"]
    confidence: float = Field(ge=0, le=1)
    evidence: list[str] = Field(default_factory=list, max_length=3)


class Tree(BaseModel):
    """A recursive model: its schema's root is a $ref into $defs."""

    value: int
    children: list[Tree] = []


class Event(BaseModel):
    title: str = Field(title="Event title", description="Short", examples=["Launch"])
    at: datetime.datetime | None = Field(default=None, description="When")
    where: Address | None = Field(default=None, description="Where, if anywhere")
    attendees: list[Person] = []
    closed: Literal[True] = True


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # additionalProperties: false, as is
    a: int
    b: list[int] | None = None


class Named(BaseModel):
    """Fields named like schema keywords are names, not keywords."""

    default: int = 0
    enum: str = "x"
    additionalProperties: bool = False
    properties: list[str] = []


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = 9


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool = True


class Zoo(BaseModel):
    """A discriminated union: oneOf with a discriminator."""

    pets: list[Annotated[Cat | Dog, Field(discriminator="kind")]]
    star: Cat | Dog | None = None


class Misc(BaseModel):
    price: decimal.Decimal
    tags: set[str]
    blob: bytes
    wait: datetime.timedelta
    either: int | str
    many: tuple[int, ...]
    mixed: Literal[1, "one", True]
    grid: list[list[float]] | None = None
    code: Annotated[str, Field(pattern=r"^\d+$", description="digits")]


MODELS = [Address, Person, Invoice, Sentiment, Tree, Event, Strict, Named, Zoo, Misc]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_anthropic_schema_is_the_sdks(model: type[BaseModel]) -> None:
    assert anthropic_schema(model.model_json_schema()) == transform_schema(model)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_openai_strict_schema_is_the_sdks(model: type[BaseModel]) -> None:
    assert openai_strict_schema(model.model_json_schema()) == to_strict_json_schema(model)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_openai_response_format_is_the_sdks(model: type[BaseModel]) -> None:
    typed = OutputType.of(model)
    assert typed is not None
    assert output_fields(typed)["response_format"] == type_to_response_format_param(model)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_input_schema_is_left_as_it_was(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    anthropic_schema(schema)
    openai_strict_schema(schema)
    assert schema == model.model_json_schema()


def test_what_anthropic_does_not_enforce_is_said_in_the_description() -> None:
    person = anthropic_schema(Person.model_json_schema())["properties"]
    assert person["name"] == {
        "type": "string",
        "title": "Name",
        "description": "{maxLength: 50, minLength: 1}",
    }
    assert person["age"]["description"] == "{maximum: 150, minimum: 0}"
    assert person["home"] == {"$ref": "#/$defs/Address", "description": "Where they live"}
    assert person["id"]["format"] == "uuid"
    assert person["seen"]["format"] == "date-time"
    assert person["tags"]["description"] == "{minItems: 2}"


def test_openai_strict_requires_every_field_and_inlines_a_described_ref() -> None:
    strict = openai_strict_schema(Person.model_json_schema())
    assert strict["required"] == list(Person.model_fields)
    assert strict["additionalProperties"] is False
    home = strict["properties"]["home"]
    assert "$ref" not in home and home["description"] == "Where they live"
    assert home["additionalProperties"] is False and home["required"] == [
        "street",
        "city",
        "postcode",
    ]
    assert "default" not in strict["properties"]["email"]  # a None default says nothing


def _free_form(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"x": schema}, "required": ["x"]}


class Scores(BaseModel):
    scores: dict[str, int]


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    a: int


class Anything(BaseModel):
    meta: dict[str, Any] = {}


class Deep(BaseModel):
    class Inner(BaseModel):
        counts: dict[str, float]

    inner: list[Inner]


class DictNamedDefault(BaseModel):
    default: dict[str, int]  # a keyword's name: still a field, still free-form


REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("dict field", Scores.model_json_schema(), "/properties/scores"),
    ("extra allow", Loose.model_json_schema(), "/ is"),
    ("dict of Any", Anything.model_json_schema(), "/properties/meta"),
    ("dict in a nested model", Deep.model_json_schema(), "/$defs/Inner/properties/counts"),
    ("dict named default", DictNamedDefault.model_json_schema(), "/properties/default"),
    ("open object", _free_form({"type": "object", "additionalProperties": True}), "/x"),
    (
        "pattern keys",
        _free_form({"type": "object", "patternProperties": {"^a": {"type": "integer"}}}),
        "/x",
    ),
    (
        "in anyOf",
        _free_form({"anyOf": [{"type": "null"}, {"type": "object", "additionalProperties": {}}]}),
        "/properties/x/anyOf/1",
    ),
]


@pytest.mark.parametrize(("schema", "where"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_a_free_form_object_is_refused_for_both_naming_where_and_the_fix(
    schema: dict[str, Any], where: str
) -> None:
    for adapt in (anthropic_schema, openai_strict_schema):
        with pytest.raises(ValueError, match="free-form object") as caught:
            adapt(schema)
        assert where in str(caught.value)
        keyword = "patternProperties" if "patternProperties" in str(schema) else "additional"
        assert f"free-form object ({keyword}" in str(caught.value)
        assert "give it named fields (a model) instead of a dict" in str(caught.value)


def test_a_closed_object_and_data_that_looks_like_a_schema_are_not_refused() -> None:
    schema = _free_form(
        {
            "type": "object",
            "properties": {"a": {"type": "string", "enum": ["additionalProperties"]}},
            "additionalProperties": False,
            "default": {"additionalProperties": True},
            "examples": [{"additionalProperties": {"type": "string"}}],
        }
    )
    assert anthropic_schema(schema)["properties"]["x"]["additionalProperties"] is False
    assert openai_strict_schema(schema)["properties"]["x"]["additionalProperties"] is False


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array", "items": {"type": "string"}},
        {"type": "string"},
        {"anyOf": [{"type": "object", "properties": {}}, {"type": "null"}]},
        {"$ref": "#/$defs/List", "$defs": {"List": {"type": "array", "items": {}}}},
    ],
    ids=["array", "string", "anyOf", "ref to an array"],
)
def test_openai_refuses_a_root_that_is_not_an_object(schema: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="needs an object at the root; wrap the value"):
        openai_strict_schema(schema)


def test_a_recursive_models_root_ref_is_an_object_root_for_openai() -> None:
    strict = openai_strict_schema(Tree.model_json_schema())
    assert strict["type"] == "object" and "$ref" not in strict
    assert strict["properties"]["children"]["items"] == {"$ref": "#/$defs/Tree"}


def test_anthropic_takes_a_root_that_is_not_an_object_as_the_sdk_does() -> None:
    schema = {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 3}
    assert anthropic_schema(schema) == transform_schema(schema)


def test_anthropic_refuses_a_part_without_a_type_naming_the_fix() -> None:
    with pytest.raises(ValueError, match="give each part a 'type'"):
        anthropic_schema(_free_form({"description": "anything"}))


def test_openai_refuses_a_ref_it_cannot_follow() -> None:
    outside = _free_form({"$ref": "https://example.com/x.json", "description": "d"})
    with pytest.raises(ValueError, match="is not local"):
        openai_strict_schema(outside)
    missing = _free_form({"$ref": "#/$defs/Nope", "description": "d"})
    with pytest.raises(ValueError, match="names nothing"):
        openai_strict_schema(missing)


_LEAVES = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("string")},
        optional={
            "format": st.sampled_from(["date", "uuid", "binary", "email", "duration"]),
            "minLength": st.integers(0, 3),
            "pattern": st.just("^a"),
            "description": st.text(max_size=5),
        },
    ),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["integer", "number"])},
        optional={"minimum": st.integers(-2, 2), "default": st.none() | st.integers(0, 3)},
    ),
    st.fixed_dictionaries({"type": st.sampled_from(["boolean", "null"])}),
    st.fixed_dictionaries({"enum": st.lists(st.text(max_size=3) | st.integers(), min_size=1)}),
    st.fixed_dictionaries({"const": st.text(max_size=3) | st.booleans()}),
)


def _compound(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    objects = st.dictionaries(st.sampled_from("abcd"), inner, max_size=3).flatmap(
        lambda props: st.fixed_dictionaries(
            {"type": st.just("object"), "properties": st.just(props)},
            optional={
                "required": st.just(sorted(props)[:1]),
                "title": st.text(max_size=4),
                "additionalProperties": st.just(False),
            },
        )
    )
    arrays = st.fixed_dictionaries(
        {"type": st.just("array"), "items": inner},
        optional={"minItems": st.integers(0, 3), "maxItems": st.integers(3, 5)},
    )
    unions = st.fixed_dictionaries({"anyOf": st.lists(inner, min_size=1, max_size=3)})
    return objects | arrays | unions


SCHEMAS = st.recursive(_LEAVES, _compound, max_leaves=8)


@given(schema=SCHEMAS)
def test_any_schema_is_adapted_as_the_sdks_adapt_it(schema: dict[str, Any]) -> None:
    assert anthropic_schema(schema) == transform_schema(schema)
    root = {"type": "object", "properties": {"x": schema}, "required": ["x"]}
    theirs = copy.deepcopy(root)
    assert openai_strict_schema(root) == _ensure_strict_json_schema(theirs, path=(), root=theirs)


def test_a_type_list_is_carried_as_an_any_of_for_anthropic_and_as_given_for_openai() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": ["string", "null"]}},
        "required": ["a"],
        "additionalProperties": False,
    }
    assert anthropic_schema(schema)["properties"]["a"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}]
    }
    assert openai_strict_schema(schema)["properties"]["a"] == {"type": ["string", "null"]}


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object"},  # any keys: closing it would let the model say only {}
        {"type": "object", "properties": {"inner": {"type": "object"}}},
        {"type": ["object", "null"]},
    ],
)
def test_an_object_that_names_no_properties_is_refused_as_free_form(schema: dict) -> None:  # type: ignore[type-arg]
    for adapt in (anthropic_schema, openai_strict_schema):
        with pytest.raises(ValueError, match=r"free-form object|object at the root"):
            adapt(schema)
