"""A typed batch's requests: the exact body each wire format sends for `output=`, Groq's
strict and best-effort modes, a request's (or defaults') own structured output refused before
anything is sent, other `output_config` keys merged, and an untyped batch unchanged."""

from __future__ import annotations

from typing import Any, Literal

import orjson
import pytest
from pydantic import BaseModel, Field

from batchwork_prefect import InvalidBatchError, batch
from batchwork_prefect.core import build_parts
from batchwork_prefect.core.build import BuiltBatch
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers import get_format
from tests.support import API_KEY


class Capital(BaseModel):
    """The capital of a country."""

    city: str
    population: int = Field(ge=0)
    continent: Literal["Europe", "Asia"] | None = None


ASK = {"custom_id": "fr", "prompt": "Capital of France?", "max_tokens": 200}


def _built(
    provider: str,
    model: str,
    output: Any = Capital,
    requests: list[dict[str, Any]] | None = None,
    defaults: dict[str, Any] | None = None,
) -> BuiltBatch:
    return build_parts(get_format(provider), model, requests or [ASK], defaults, output=output)


def sent_bodies(built: BuiltBatch) -> list[dict[str, Any]]:
    """Each request's body as sent: Anthropic's `params`, OpenAI's (and Groq's) `body`."""
    entries = [orjson.loads(one) for part in built.parts for one in part.encoded]
    return [entry.get("params", entry.get("body")) for entry in entries]


ANTHROPIC_BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 200,
    "messages": [{"role": "user", "content": "Capital of France?"}],
    "output_config": {
        "format": {
            "type": "json_schema",
            "schema": {
                "type": "object",
                "description": "The capital of a country.",
                "title": "Capital",
                "properties": {
                    "city": {"type": "string", "title": "City"},
                    "population": {
                        "type": "integer",
                        "title": "Population",
                        "description": "{minimum: 0}",
                    },
                    "continent": {
                        "anyOf": [{"enum": ["Europe", "Asia"]}, {"type": "null"}],
                        "title": "Continent",
                        "description": "{default: None}",
                    },
                },
                "additionalProperties": False,
                "required": ["city", "population"],
            },
        }
    },
}

OPENAI_SCHEMA = {
    "description": "The capital of a country.",
    "properties": {
        "city": {"title": "City", "type": "string"},
        "population": {"minimum": 0, "title": "Population", "type": "integer"},
        "continent": {
            "anyOf": [{"enum": ["Europe", "Asia"], "type": "string"}, {"type": "null"}],
            "title": "Continent",
        },
    },
    "required": ["city", "population", "continent"],
    "title": "Capital",
    "type": "object",
    "additionalProperties": False,
}

OPENAI_BODY = {
    "model": "gpt-4o-mini",
    "max_completion_tokens": 200,
    "messages": [{"role": "user", "content": "Capital of France?"}],
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "Capital", "schema": OPENAI_SCHEMA, "strict": True},
    },
}


def test_the_anthropic_body_of_a_typed_request() -> None:
    built = _built("anthropic", "claude-opus-4-8")
    assert sent_bodies(built) == [ANTHROPIC_BODY]
    assert built.output == OutputType.of(Capital)


def test_the_openai_body_of_a_typed_request() -> None:
    built = _built("openai", "gpt-4o-mini")
    assert sent_bodies(built) == [OPENAI_BODY]
    entry = orjson.loads(built.parts[0].encoded[0])
    assert (entry["custom_id"], entry["method"], entry["url"]) == (
        "fr",
        "POST",
        "/v1/chat/completions",
    )


def test_a_dict_schema_is_sent_in_each_providers_form_named_by_its_title() -> None:
    schema = Capital.model_json_schema()
    assert sent_bodies(_built("anthropic", "claude-opus-4-8", schema)) == [ANTHROPIC_BODY]
    assert sent_bodies(_built("openai", "gpt-4o-mini", schema)) == [OPENAI_BODY]
    untitled = {k: v for k, v in schema.items() if k != "title"}
    (body,) = sent_bodies(_built("openai", "gpt-4o-mini", untitled))
    assert body["response_format"]["json_schema"]["name"] == "output"


def test_every_request_of_the_batch_asks_for_the_same_output() -> None:
    requests = [{"custom_id": f"q{i}", "prompt": f"Question {i}"} for i in range(3)]
    bodies = sent_bodies(_built("anthropic", "claude-x", requests=requests))
    assert [body["output_config"] for body in bodies] == [ANTHROPIC_BODY["output_config"]] * 3


@pytest.mark.parametrize(
    ("model", "strict"),
    [
        ("openai/gpt-oss-120b", True),
        ("openai/gpt-oss-20b", True),
        ("moonshotai/kimi-k2-instruct", False),
        ("llama-3.3-70b-versatile", False),
        ("openai/gpt-4o", False),  # the prefix is gpt-oss-, not openai/
    ],
)
def test_groq_is_strict_only_for_its_strict_models(model: str, strict: bool) -> None:
    (body,) = sent_bodies(_built("groq", model))
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "Capital", "schema": OPENAI_SCHEMA, "strict": strict},
    }


def test_openai_is_always_strict() -> None:
    (body,) = sent_bodies(_built("openai", "gpt-oss-120b"))
    assert body["response_format"]["json_schema"]["strict"] is True


OWN_FORMAT = {"format": {"type": "json_schema", "schema": {"type": "object"}}}
OWN_RESPONSE_FORMAT = {"type": "json_object"}


@pytest.mark.parametrize(
    ("provider", "request_extra", "defaults", "problem"),
    [
        (
            "anthropic",
            {"params": {"output_config": OWN_FORMAT}},
            None,
            "requests[0] (fr): output_config.format: the batch's output= sets it",
        ),
        (
            "anthropic",
            {},
            {"output_config": OWN_FORMAT},
            "defaults.output_config.format: the batch's output= sets it",
        ),
        (
            "anthropic",
            {},
            {"output_config": "high"},
            "defaults.output_config: expected an object",
        ),
        (
            "openai",
            {"params": {"response_format": OWN_RESPONSE_FORMAT}},
            None,
            "requests[0] (fr): response_format: the batch's output= sets it",
        ),
        (
            "openai",
            {},
            {"response_format": OWN_RESPONSE_FORMAT},
            "defaults.response_format: the batch's output= sets it",
        ),
    ],
    ids=["anthropic params", "anthropic defaults", "not an object", "openai params", "defaults"],
)
def test_a_structured_output_of_its_own_is_refused_before_anything_is_sent(
    emulator: Emulator,
    provider: str,
    request_extra: dict[str, Any],
    defaults: dict[str, Any] | None,
    problem: str,
) -> None:
    base_url = emulator.base_url if provider == "anthropic" else emulator.openai_base_url
    requests = [{**ASK, **request_extra}, {"custom_id": "jp", "prompt": "Japan?"}]
    with pytest.raises(InvalidBatchError) as caught:
        batch(
            f"{provider}/m-1",
            requests,
            defaults=defaults,
            output=Capital,
            api_key=API_KEY,
            base_url=base_url,
        )
    (named,) = caught.value.problems  # defaults' once, not once per request
    assert named.startswith(problem)
    if "expected an object" not in named:
        assert named.endswith(
            "drop it, or send the requests of each output type as their own batch"
        )
    assert emulator.batches_created == 0
    assert sum(emulator.calls.values()) == 0


def test_a_null_structured_output_of_its_own_is_not_one() -> None:
    nulls = {"params": {"output_config": {"format": None}}}
    (body,) = sent_bodies(_built("anthropic", "claude-x", requests=[{**ASK, **nulls}]))
    assert body["output_config"] == ANTHROPIC_BODY["output_config"]
    no_format = {"params": {"response_format": None}}
    (body,) = sent_bodies(_built("openai", "gpt-4o-mini", requests=[{**ASK, **no_format}]))
    assert body == OPENAI_BODY


def test_other_output_config_keys_are_kept_and_merged() -> None:
    mine = {"params": {"output_config": {"effort": "low"}}}
    requests = [{**ASK, **mine}, {"custom_id": "jp", "prompt": "Japan?"}]
    bodies = sent_bodies(
        _built(
            "anthropic",
            "claude-x",
            requests=requests,
            defaults={"output_config": {"effort": "high"}},
        )
    )
    assert bodies[0]["output_config"] == {"effort": "low", **ANTHROPIC_BODY["output_config"]}
    assert bodies[1]["output_config"] == {"effort": "high", **ANTHROPIC_BODY["output_config"]}
    assert list(bodies[0]["output_config"]) == ["effort", "format"]


@pytest.mark.parametrize(
    ("provider", "params"),
    [
        ("anthropic", {"output_config": {**OWN_FORMAT, "effort": "low"}}),
        ("openai", {"response_format": {"type": "json_object"}}),
        ("openai", {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}),
    ],
)
def test_an_untyped_batch_sends_its_own_structured_output_unchanged(
    provider: str, params: dict[str, Any]
) -> None:
    built = _built(provider, "m-1", None, [{**ASK, "params": params}])
    (body,) = sent_bodies(built)
    assert {key: body[key] for key in params} == params
    assert built.output is None


def test_a_typed_batch_has_another_digest_than_the_untyped_one() -> None:
    for provider in ("anthropic", "openai", "groq"):
        typed = _built(provider, "m-1").parts[0].digest
        untyped = _built(provider, "m-1", None).parts[0].digest
        as_dict = _built(provider, "m-1", {**Capital.model_json_schema(), "title": "Other"})
        assert typed != untyped
        assert typed == _built(provider, "m-1").parts[0].digest  # stable
        assert as_dict.parts[0].digest not in (typed, untyped)


def test_a_schema_a_provider_cannot_carry_is_refused_before_anything_is_sent(
    emulator: Emulator,
) -> None:
    class Scores(BaseModel):
        scores: dict[str, int]

    for provider, base_url in (
        ("anthropic", emulator.base_url),
        ("openai", emulator.openai_base_url),
    ):
        with pytest.raises(InvalidBatchError, match="output: /properties/scores is a free-form"):
            batch(f"{provider}/m", [ASK], output=Scores, api_key=API_KEY, base_url=base_url)
    with pytest.raises(InvalidBatchError, match=r"output: OpenAI's .* needs an object at the root"):
        batch(
            "openai/m",
            [ASK],
            output={"type": "array", "items": {"type": "string"}},
            api_key=API_KEY,
            base_url=emulator.openai_base_url,
        )
    assert sum(emulator.calls.values()) == 0
