"""Request dispatch: route matching, call accounting, faults, auth, request ids."""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter, deque
from dataclasses import replace
from urllib.parse import parse_qs, unquote, urlsplit

from ._clock import EmulatedClock
from ._errors import ApiError, default_message_for, error_type_for, invalid_request, not_found
from ._faults import Fault, FaultQueue
from ._holds import Holds
from ._ids import IdFactory
from ._responses import Request, Response, error_body
from ._routes import Query, Routes
from ._settings import Settings

_log = logging.getLogger(__name__)

RECEIVED_LIMIT = 1000
UNKNOWN_ROUTE = "unknown"

_ROUTE_TABLE: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(r"/v1/messages/batches"), "create"),
    ("GET", re.compile(r"/v1/messages/batches"), "list"),
    ("GET", re.compile(r"/v1/messages/batches/([^/]+)"), "retrieve"),
    ("DELETE", re.compile(r"/v1/messages/batches/([^/]+)"), "delete"),
    ("POST", re.compile(r"/v1/messages/batches/([^/]+)/cancel"), "cancel"),
    ("GET", re.compile(r"/v1/messages/batches/([^/]+)/results"), "results"),
)

Match = tuple[str, str | None]


def resolve(method: str, path: str) -> Match | None:
    """``(route name, batch id or None)`` for a known route, else ``None``."""
    path = path.rstrip("/") or "/"
    for route_method, pattern, name in _ROUTE_TABLE:
        found = pattern.fullmatch(path)
        if found is not None and method == route_method:
            return name, unquote(found.group(1)) if pattern.groups else None
    return None


class App:
    """Turns a ``Request`` into a ``Response``; thread-safe."""

    def __init__(self, settings: Settings, clock: EmulatedClock, stopping: threading.Event) -> None:
        self.settings = settings
        self.routes = Routes(settings, clock, stopping)
        self.faults = FaultQueue()
        self.holds = Holds()
        self.calls: Counter[str] = Counter()
        self.received: deque[tuple[str, dict[str, str]]] = deque(maxlen=RECEIVED_LIMIT)
        self._request_ids = IdFactory(settings.seed, "requests")
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        """Answer one request; never raises."""
        request_id = self._request_ids.make("req_")
        split = urlsplit(request.target)
        match = resolve(request.method, split.path)
        self._record(match[0] if match else UNKNOWN_ROUTE, request.headers)
        try:
            response = self._dispatch(match, request, parse_qs(split.query), request_id)
        except ApiError as exc:
            response = api_error_response(exc, request_id)
        except Exception:  # an emulator bug should look like a server error, not hang
            _log.exception("emulator failed on %s %s", request.method, request.target)
            response = Response(500, error_body("api_error", "Internal server error", request_id))
        if request.oversize:
            response = replace(response, close=True)
        return replace(response, headers=(("request-id", request_id), *response.headers))

    def protocol_error(self, status: int, message: str) -> Response:
        """A JSON error for a request too malformed to route (counted as ``unknown``)."""
        request_id = self._request_ids.make("req_")
        self._record(UNKNOWN_ROUTE, {})
        body = error_body(error_type_for(status), message, request_id)
        return Response(status, body, headers=(("request-id", request_id),))

    def reset_calls(self) -> None:
        """Zero the per-route counters and forget the received-request log."""
        with self._lock:
            self.calls.clear()
            self.received.clear()

    def received_list(self) -> list[tuple[str, dict[str, str]]]:
        """Snapshot of the last ``RECEIVED_LIMIT`` ``(route, headers)`` pairs."""
        with self._lock:
            return list(self.received)

    def _record(self, route: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.calls[route] += 1
            self.received.append((route, dict(headers)))

    def _dispatch(
        self, match: Match | None, request: Request, query: Query, request_id: str
    ) -> Response:
        if match is None:
            raise not_found("The requested resource could not be found.")
        name, batch_id = match
        fault = self.faults.take(name)
        if fault is not None and fault.hold_after_bytes is not None:
            response = self._answer(name, batch_id, request, query, request_id)
            return replace(response, hold_after=fault.hold_after_bytes)
        if fault is not None and not fault.after_create and fault.truncate_after_bytes is None:
            return fault_response(fault, request_id)
        self._authorize(request.headers)
        response = self._route(name, batch_id, request, query)
        if fault is None:
            return response
        if response.status != 200:
            return response
        if fault.truncate_after_bytes is not None:
            return replace(response, truncate_after=fault.truncate_after_bytes)
        return fault_response(fault, request_id)

    def _answer(
        self, name: str, batch_id: str | None, request: Request, query: Query, request_id: str
    ) -> Response:
        """The real response, API errors included (so a held fault holds those too)."""
        try:
            self._authorize(request.headers)
            return self._route(name, batch_id, request, query)
        except ApiError as exc:
            return api_error_response(exc, request_id)

    def _authorize(self, headers: dict[str, str]) -> None:
        key = self.settings.api_key
        if key is not None and key not in (
            headers.get("x-api-key"),
            _bearer(headers.get("authorization")),
        ):
            raise ApiError(401, "invalid x-api-key")
        if "anthropic-version" not in headers:
            raise invalid_request("anthropic-version: header is required")

    def _route(self, name: str, batch_id: str | None, request: Request, query: Query) -> Response:
        routes = self.routes
        if name == "create":
            return routes.create(request)
        if name == "list":
            return routes.list_batches(query)
        assert batch_id is not None
        handler = {
            "retrieve": routes.retrieve,
            "delete": routes.delete,
            "cancel": routes.cancel,
            "results": routes.results,
        }[name]
        return handler(batch_id)


def api_error_response(exc: ApiError, request_id: str) -> Response:
    """The standard JSON error response for ``exc``."""
    return Response(exc.status, error_body(exc.error_type, exc.message, request_id))


def fault_response(fault: Fault, request_id: str) -> Response:
    """The error response a status fault stands for, with its retry headers."""
    headers: list[tuple[str, str]] = []
    if fault.retry_after is not None:
        headers.append(("retry-after", _number(fault.retry_after)))
    if fault.retry_after_ms is not None:
        headers.append(("retry-after-ms", _number(fault.retry_after_ms)))
    if fault.should_retry is not None:
        headers.append(("x-should-retry", "true" if fault.should_retry else "false"))
    if fault.body is not None:
        return Response(fault.status, fault.body, "text/plain; charset=utf-8", tuple(headers))
    body = error_body(error_type_for(fault.status), default_message_for(fault.status), request_id)
    return Response(fault.status, body, headers=tuple(headers))


def _bearer(value: str | None) -> str | None:
    if value is None or not value.lower().startswith("bearer "):
        return None
    return value[7:].strip()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
