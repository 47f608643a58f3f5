"""What an API's folder gives to be mounted: its wire, paths, routes and handler."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ._clock import EmulatedClock
from ._responses import Query, Request, Response
from ._settings import Settings
from ._submissions import Submissions
from ._wire import Wire


class Handler(Protocol):
    """The business logic of one API's routes (auth and faults are handled by ``_app``)."""

    origin: str
    """The emulator's base URL, set once it listens (for URLs the API's objects name)."""
    submissions: Submissions

    @property
    def batches_created(self) -> int:
        """Batches stored by creates so far."""
        ...

    def handle(
        self, name: str, resource_id: str | None, request: Request, query: Query
    ) -> Response:
        """Answer route ``name`` (one of the API's ``routes``)."""
        ...


@dataclass(frozen=True, slots=True)
class Api:
    """One API as ``_table`` mounts it."""

    wire: Wire
    prefixes: tuple[str, ...]
    """Paths at or under these belong to this API, known routes or not."""
    routes: tuple[tuple[str, str, str], ...]
    """``(method, path pattern, route name)``; a pattern's one group is the resource id."""
    creates: frozenset[str]
    """The routes that store an object (those an ``after_create`` fault may take)."""
    handler: Callable[[Settings, EmulatedClock, threading.Event], Handler]
    base_path: str = ""
    """What a client's base URL adds to the emulator's origin for this API, as the
    provider's own base URL has it (OpenAI's ``/v1``); a new API's routes live under
    ``/<its name>`` so that APIs with the same paths (``/v1/files``) never collide."""
    open_routes: frozenset[str] = frozenset()
    """Routes whose URL carries its own authority (a resumable upload's session URL): the
    API key is not asked for."""
