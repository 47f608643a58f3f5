"""The text form of a fault (`parse_fault`), as `batchwork-prefect emulator --fault` takes it."""

from __future__ import annotations

from typing import Any

import pytest

from batchwork_prefect.emulator import Fault
from batchwork_prefect.emulator._fault_text import FAULT_SYNTAX, parse_fault
from batchwork_prefect.emulator._faults import ROUTES


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("retrieve", {"route": "retrieve"}),
        ("retrieve:529", {"route": "retrieve", "status": 529}),
        ("list:500:3", {"route": "list", "status": 500, "times": 3}),
        (
            "create:529:2:retry-after=1.5:retry-after-ms=1500:should-retry=false:after-create",
            {
                "route": "create",
                "status": 529,
                "times": 2,
                "retry_after": 1.5,
                "retry_after_ms": 1500.0,
                "should_retry": False,
                "after_create": True,
            },
        ),
        (
            "openai.batches.create:500:after-create",
            {"route": "openai.batches.create", "status": 500, "after_create": True},
        ),
        (
            "openai.files.create:after-create",
            {"route": "openai.files.create", "after_create": True},
        ),
        (
            "results:200:2:truncate-after=0",
            {"route": "results", "times": 2, "truncate_after_bytes": 0},
        ),
        (
            'cancel:400:body=oops: {"a": 1}',
            {"route": "cancel", "status": 400, "body": b'oops: {"a": 1}'},
        ),
    ],
)
def test_fault_syntax(text: str, fields: dict[str, Any]) -> None:
    assert parse_fault(text) == Fault(**fields)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_every_route_of_the_emulator_is_a_fault_route(route: str) -> None:
    assert parse_fault(route) == Fault(route=route)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("retreive:500", "unknown route 'retreive'; choose one of create, list, retrieve"),
        ("retrieve:five", "'five' is neither STATUS, TIMES nor an OPTION"),
        ("retrieve:500:after-create", "after-create only applies to the routes create, openai"),
        ("results:truncate-after=5:retry-after=1", "truncate-after cannot be combined"),
    ],
)
def test_malformed_text_is_a_value_error_naming_the_problem_and_the_shape(
    text: str, named: str
) -> None:
    with pytest.raises(ValueError) as caught:
        parse_fault(text)
    assert str(caught.value).startswith(f"{text!r}: {named}")
    assert str(caught.value).endswith(f"(expected {FAULT_SYNTAX})")
