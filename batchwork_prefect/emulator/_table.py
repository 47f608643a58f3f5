"""The route table: method and path to a route name, its resource id and its API."""

from __future__ import annotations

import re
from urllib.parse import unquote

from ._wire import ANTHROPIC, OPENAI, Wire

_ROUTE_TABLE: tuple[tuple[str, re.Pattern[str], str, Wire], ...] = (
    ("POST", re.compile(r"/v1/messages/batches"), "create", ANTHROPIC),
    ("GET", re.compile(r"/v1/messages/batches"), "list", ANTHROPIC),
    ("GET", re.compile(r"/v1/messages/batches/([^/]+)"), "retrieve", ANTHROPIC),
    ("DELETE", re.compile(r"/v1/messages/batches/([^/]+)"), "delete", ANTHROPIC),
    ("POST", re.compile(r"/v1/messages/batches/([^/]+)/cancel"), "cancel", ANTHROPIC),
    ("GET", re.compile(r"/v1/messages/batches/([^/]+)/results"), "results", ANTHROPIC),
    ("POST", re.compile(r"/v1/files"), "openai.files.create", OPENAI),
    ("GET", re.compile(r"/v1/files/([^/]+)"), "openai.files.retrieve", OPENAI),
    ("GET", re.compile(r"/v1/files/([^/]+)/content"), "openai.files.content", OPENAI),
    ("DELETE", re.compile(r"/v1/files/([^/]+)"), "openai.files.delete", OPENAI),
    ("POST", re.compile(r"/v1/batches"), "openai.batches.create", OPENAI),
    ("GET", re.compile(r"/v1/batches"), "openai.batches.list", OPENAI),
    ("GET", re.compile(r"/v1/batches/([^/]+)"), "openai.batches.retrieve", OPENAI),
    ("POST", re.compile(r"/v1/batches/([^/]+)/cancel"), "openai.batches.cancel", OPENAI),
)

ROUTE_ORDER: tuple[str, ...] = tuple(dict.fromkeys(name for _, _, name, _ in _ROUTE_TABLE))
ROUTE_NAMES: frozenset[str] = frozenset(ROUTE_ORDER)
CREATE_ROUTES: frozenset[str] = frozenset(
    {"create", "openai.batches.create", "openai.files.create"}
)

Match = tuple[str, str | None]


def resolve(method: str, path: str) -> Match | None:
    """``(route name, resource id or None)`` for a known route, else ``None``."""
    path = path.rstrip("/") or "/"
    for route_method, pattern, name, _ in _ROUTE_TABLE:
        found = pattern.fullmatch(path)
        if found is not None and method == route_method:
            return name, unquote(found.group(1)) if pattern.groups else None
    return None


def wire_for(path: str) -> Wire:
    """The API a path belongs to (known or not): OpenAI's under ``/v1/files`` and
    ``/v1/batches``, Anthropic's elsewhere."""
    for prefix in ("/v1/files", "/v1/batches"):
        if path == prefix or path.startswith(prefix + "/"):
            return OPENAI
    return ANTHROPIC
