"""Request dispatch: route matching, call accounting, faults, auth, request ids (every API)."""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

from ._api import Handler
from ._clock import EmulatedClock
from ._errors import ApiError, default_message_for
from ._faults import Fault, FaultQueue
from ._holds import Holds
from ._ids import IdFactory
from ._responses import Query, Request, Response
from ._settings import Settings
from ._table import APIS, Match, api_for, api_of, resolve
from ._wire import Wire

_log = logging.getLogger(__name__)

RECEIVED_LIMIT = 1000
UNKNOWN_ROUTE = "unknown"


class App:
    """Turns a ``Request`` into a ``Response``; thread-safe."""

    def __init__(self, settings: Settings, clock: EmulatedClock, stopping: threading.Event) -> None:
        self.settings = settings
        self.handlers: dict[str, Handler] = {
            api.wire.name: api.handler(settings, clock, stopping) for api in APIS
        }
        self.faults = FaultQueue()
        self.holds = Holds()
        self.calls: Counter[str] = Counter()
        self.received: deque[tuple[str, dict[str, str]]] = deque(maxlen=RECEIVED_LIMIT)
        self._request_ids = IdFactory(settings.seed, "requests", settings.id_salt)
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        """Answer one request; never raises."""
        split = urlsplit(request.target)
        wire = api_for(split.path).wire
        request_id = wire.new_request_id(self._request_ids)
        match = resolve(request.method, split.path)
        self._record(match[0] if match else UNKNOWN_ROUTE, request.headers)
        try:
            response = self._dispatch(match, wire, request, parse_qs(split.query), request_id)
        except ApiError as exc:
            response = api_error_response(exc, request_id, wire)
        except Exception:  # an emulator bug should look like a server error, not hang
            _log.exception("emulator failed on %s %s", request.method, request.target)
            error = ApiError(500, "Internal server error", wire.error_type_for(500))
            response = api_error_response(error, request_id, wire)
        if request.oversize:
            response = replace(response, close=True)
        header = (wire.request_id_header, request_id)
        return replace(response, headers=(header, *response.headers))

    def protocol_error(self, status: int, message: str) -> Response:
        """A JSON error for a request too malformed to route (counted as ``unknown``), in
        the first API's shape."""
        wire = APIS[0].wire
        request_id = wire.new_request_id(self._request_ids)
        self._record(UNKNOWN_ROUTE, {})
        body = wire.error_body(ApiError(status, message, wire.error_type_for(status)), request_id)
        return Response(status, body, headers=((wire.request_id_header, request_id),))

    def serve_at(self, origin: str) -> None:
        """Tell every API the emulator's base URL."""
        for handler in self.handlers.values():
            handler.origin = origin

    def batches_created(self) -> int:
        """Batches stored by creates of every API."""
        return sum(handler.batches_created for handler in self.handlers.values())

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
        self, match: Match | None, wire: Wire, request: Request, query: Query, request_id: str
    ) -> Response:
        if match is None:
            raise wire.unknown_route(request.method, urlsplit(request.target).path)
        name, batch_id = match
        fault = self.faults.take(name)
        if fault is not None and fault.hold_after_bytes is not None:
            response = self._answer(name, batch_id, wire, request, query, request_id)
            return replace(response, hold_after=fault.hold_after_bytes)
        if fault is not None and not fault.after_create and fault.truncate_after_bytes is None:
            return fault_response(fault, request_id, wire)
        self._authorize(name, wire, request)
        response = self._route(name, batch_id, request, query)
        if fault is None:
            return response
        if not 200 <= response.status < 300:  # a success (201 too) takes the fault
            return response
        if fault.truncate_after_bytes is not None:
            return replace(response, truncate_after=fault.truncate_after_bytes)
        return fault_response(fault, request_id, wire)

    def _answer(
        self,
        name: str,
        batch_id: str | None,
        wire: Wire,
        request: Request,
        query: Query,
        request_id: str,
    ) -> Response:
        """The real response, API errors included (so a held fault holds those too)."""
        try:
            self._authorize(name, wire, request)
            return self._route(name, batch_id, request, query)
        except ApiError as exc:
            return api_error_response(exc, request_id, wire)

    def _authorize(self, name: str, wire: Wire, request: Request) -> None:
        if name not in api_of(name).open_routes:
            wire.authorize(request.headers, self.settings.api_key)

    def _route(self, name: str, batch_id: str | None, request: Request, query: Query) -> Response:
        handler = self.handlers[api_of(name).wire.name]
        return handler.handle(name, batch_id, request, query)


def api_error_response(exc: ApiError, request_id: str, wire: Wire) -> Response:
    """The standard JSON error response for ``exc`` in ``wire``'s shape."""
    return Response(exc.status, wire.error_body(exc, request_id))


def fault_response(fault: Fault, request_id: str, wire: Wire) -> Response:
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
    error = ApiError(
        fault.status,
        default_message_for(fault.status),
        wire.error_type_for(fault.status),
        code=wire.fault_code(fault.status),
    )
    return Response(fault.status, wire.error_body(error, request_id), headers=tuple(headers))


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
