"""The mounted APIs, and the route table built from them: method and path to a route
name, its resource id and its API."""

from __future__ import annotations

import re
from urllib.parse import unquote

from . import anthropic, gemini, mistral, openai, together, xai
from ._api import Api

# where the APIs are mounted: a new API is its folder (an ``Api`` named ``API``) and its
# entry here
APIS: tuple[Api, ...] = (
    anthropic.API,
    openai.API,
    gemini.API,
    together.API,
    mistral.API,
    xai.API,
)
"""Every API the emulator serves; the first also answers paths no API owns."""
API_NAMES: tuple[str, ...] = tuple(api.wire.name for api in APIS)

_ROUTE_TABLE: tuple[tuple[str, re.Pattern[str], str, Api], ...] = tuple(
    (method, re.compile(pattern), name, api) for api in APIS for method, pattern, name in api.routes
)

ROUTE_ORDER: tuple[str, ...] = tuple(dict.fromkeys(name for _, _, name, _ in _ROUTE_TABLE))
ROUTE_NAMES: frozenset[str] = frozenset(ROUTE_ORDER)
CREATE_ROUTES: frozenset[str] = frozenset().union(*(api.creates for api in APIS))

Match = tuple[str, str | None]


def resolve(method: str, path: str) -> Match | None:
    """``(route name, resource id or None)`` for a known route, else ``None``."""
    path = path.rstrip("/") or "/"
    for route_method, pattern, name, _ in _ROUTE_TABLE:
        found = pattern.fullmatch(path)
        if found is not None and method == route_method:
            return name, unquote(found.group(1)) if pattern.groups else None
    return None


def api_of(name: str) -> Api:
    """The API a route name belongs to."""
    return next(api for _, _, route, api in _ROUTE_TABLE if route == name)


def api_for(path: str) -> Api:
    """The API a path belongs to (known route or not): the one owning a prefix of it, else
    the first."""
    for api in APIS:
        for prefix in api.prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return api
    return APIS[0]
