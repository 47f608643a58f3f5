"""Shared pieces of the structured-output tests: schemas, a pydantic model, and runners
that send one batch over HTTP and return its answers."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

import httpx
from pydantic import BaseModel

from batchwork_prefect.emulator import Emulator
from tests.emulator import openai_helpers as oh
from tests.emulator.emulator_helpers import create, results

FRANCE = "Capital of France? One word."
CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


class Color(StrEnum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    zip_code: int | None = None


class Node(BaseModel):
    name: str
    children: list[Node] = []


class Person(BaseModel):
    name: str
    color: Color
    tags: list[str]
    home: Address
    work: Address | None = None
    kind: Literal["a", "b"] = "b"
    score: float
    age: int
    active: bool
    tree: Node


PERSON = {
    "name": "Paris",
    "color": "red",
    "tags": ["Paris"],
    "home": {"street": "Paris", "zip_code": 0},
    "work": {"street": "Paris", "zip_code": 0},
    "kind": "a",
    "score": 0.0,
    "age": 0,
    "active": True,
    "tree": {"name": "Paris", "children": []},
}


def anthropic_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"format": {"type": "json_schema", "schema": schema}}


def openai_format(schema: dict[str, Any], name: str = "answer") -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def anthropic_texts(
    client: httpx.Client, entries: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    return results(client, create(client, entries)["id"])


def text_of(result: dict[str, Any]) -> str:
    assert result["type"] == "succeeded", result
    (block,) = result["message"]["content"]
    assert block["type"] == "text"
    text: str = block["text"]
    return text


def openai_run(
    client: httpx.Client, emu: Emulator, entries: list[dict[str, Any]]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    batch = oh.create(client, entries)
    emu.advance(60)
    done = oh.retrieve(client, batch["id"])
    assert done["status"] == "completed"
    return oh.file_lines(client, done["output_file_id"]), oh.file_lines(
        client, done["error_file_id"]
    )


def content_of(entry: dict[str, Any]) -> str:
    message = entry["response"]["body"]["choices"][0]["message"]
    content: str = message["content"]
    return content
