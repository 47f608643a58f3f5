"""A JSON-schema output is read as given: a `$schema` or `$ref` naming a URL is refused,
never fetched. A listening loopback socket that is never answered tells: a fetch would have
connected to it before the refusal."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from batchwork_prefect import InvalidBatchError
from batchwork_prefect.outputs import OutputType


@pytest.fixture
def listening() -> Iterator[tuple[str, socket.socket]]:
    """A loopback URL whose connections wait, unanswered, in the socket's backlog."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield f"http://127.0.0.1:{server.getsockname()[1]}", server


def _connected(server: socket.socket) -> bool:
    try:
        accepted, _ = server.accept()
    except BlockingIOError:
        return False
    accepted.close()
    return True


SCHEMAS: dict[str, Callable[[str], dict[str, Any]]] = {
    "$schema": lambda url: {"$schema": f"{url}/meta.json", "type": "object", "properties": {}},
    "$ref in a property": lambda url: {
        "type": "object",
        "properties": {"a": {"$ref": f"{url}/a.json"}},
    },
    "$ref at the root": lambda url: {"$ref": f"{url}/root.json"},
}


@pytest.mark.parametrize("schema", SCHEMAS.values(), ids=SCHEMAS.keys())
def test_a_url_in_the_schema_is_refused_not_fetched(
    listening: tuple[str, socket.socket], schema: Callable[[str], dict[str, Any]]
) -> None:
    url, server = listening
    with pytest.raises(
        InvalidBatchError, match=r"output: not a usable JSON schema: .*127\.0\.0\.1"
    ):
        OutputType.of(schema(url))
    assert not _connected(server)


def test_the_standard_drafts_are_known_without_a_fetch() -> None:
    for draft in (
        "https://json-schema.org/draft/2020-12/schema",
        "http://json-schema.org/draft-07/schema#",
    ):
        output = OutputType.of({"$schema": draft, "type": "object", "properties": {}})
        assert output is not None
        output.check({})
