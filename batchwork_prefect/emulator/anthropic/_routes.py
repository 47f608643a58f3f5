"""Handlers of the six Message Batches routes (auth and faults are handled by ``_app``)."""

from __future__ import annotations

import threading

from .._clock import EmulatedClock
from .._errors import ApiError, invalid_request, not_found
from .._ids import IdFactory
from .._responses import JSONL_TYPE, Query, Request, Response, json_response
from .._settings import Settings
from .._state import Batch, View, begin_cancel, is_archived, is_ended, plan_batch, view
from .._store import Store
from .._submissions import Submissions
from ._outcomes import plan_request
from ._render import render_batch, render_page
from ._results import build_results
from ._validation import JSONObject, parse_json, validate_create

DEFAULT_LIST_LIMIT = 20
MAX_LIST_LIMIT = 1000


class Routes:
    """Business logic of the emulated API, one method per route."""

    def __init__(self, settings: Settings, clock: EmulatedClock, stopping: threading.Event) -> None:
        self.settings = settings
        self.clock = clock
        self.store: Store[Batch] = Store()
        self.submissions = Submissions()
        self.origin = ""
        self._stopping = stopping
        self._ids = IdFactory(settings.seed, "batches", settings.id_salt)
        self._lock = threading.Lock()
        self._created = 0

    @property
    def batches_created(self) -> int:
        """Batches stored by creates so far."""
        with self._lock:
            return self._created

    def handle(
        self, name: str, resource_id: str | None, request: Request, query: Query
    ) -> Response:
        """Answer route ``name`` (one of the six Message Batches names)."""
        if name == "create":
            return self.create(request)
        if name == "list":
            return self.list_batches(query)
        assert resource_id is not None
        handler = {
            "retrieve": self.retrieve,
            "delete": self.delete,
            "cancel": self.cancel,
            "results": self.results,
        }[name]
        return handler(resource_id)

    def create(self, request: Request) -> Response:
        """``POST /v1/messages/batches``."""
        if request.oversize:
            raise ApiError(413, "Request exceeds the maximum allowed number of bytes.")
        entries = validate_create(parse_json(request.body))
        batch = self._new_batch(entries)
        self.store.add(batch)
        with self._lock:
            self._created += 1
        seen = view(batch, batch.created, gradual=self.settings.gradual_counts, hold_open=True)
        response = json_response(200, self._render(batch, seen))
        if self.settings.create_delay_seconds > 0:
            self._stopping.wait(self.settings.create_delay_seconds)
        return response

    def list_batches(self, query: Query) -> Response:
        """``GET /v1/messages/batches``."""
        limit = _limit(query)
        before_id, after_id = _single(query, "before_id"), _single(query, "after_id")
        if before_id is not None and after_id is not None:
            raise invalid_request("Only one of before_id and after_id may be provided.")
        page = self.store.page(limit, before_id=before_id, after_id=after_id)
        now = self.clock.now()
        items = [self._render(batch, self._view(batch, now)) for batch in page.batches]
        return json_response(200, render_page(items, page.has_more))

    def retrieve(self, batch_id: str) -> Response:
        """``GET /v1/messages/batches/{id}``; adds ``retry-after`` while in progress."""
        batch = self._get(batch_id)
        seen = self._view(batch, self.clock.now())
        headers: tuple[tuple[str, str], ...] = ()
        hint = self.settings.poll_retry_after
        if hint is not None and seen.status == "in_progress":
            headers = (("retry-after", str(hint)),)
        return json_response(200, self._render(batch, seen), headers)

    def cancel(self, batch_id: str) -> Response:
        """``POST /v1/messages/batches/{id}/cancel``."""
        batch = self._get(batch_id)
        now = self.clock.now()
        begin_cancel(batch, now, self.settings.cancel_seconds)
        seen = view(batch, now, gradual=self.settings.gradual_counts, hold_open=True)
        return json_response(200, self._render(batch, seen))

    def delete(self, batch_id: str) -> Response:
        """``DELETE /v1/messages/batches/{id}``; only once ended."""
        batch = self._get(batch_id)
        if not is_ended(batch, self.clock.now()):
            raise invalid_request(
                "In progress batches cannot be deleted. Consider canceling the batch instead."
            )
        if not self.store.delete(batch_id):
            raise not_found(f"Message Batch {batch_id} not found.")
        return json_response(200, {"id": batch_id, "type": "message_batch_deleted"})

    def results(self, batch_id: str) -> Response:
        """``GET /v1/messages/batches/{id}/results``: JSONL once ended, until archived."""
        batch = self._get(batch_id)
        now = self.clock.now()
        if not is_ended(batch, now) or is_archived(batch, now):
            raise not_found(f"Message Batch {batch_id} has no available results.")
        with batch.lock:
            if batch.results_body is None:
                settings = self.settings
                batch.results_body = build_results(
                    batch,
                    settings.seed,
                    settings.reply_text,
                    reply_content=settings.reply_content,
                    reply_usage=settings.reply_usage,
                )
            body = batch.results_body
        return Response(200, body, JSONL_TYPE)

    def _get(self, batch_id: str) -> Batch:
        batch = self.store.get(batch_id)
        if batch is None:
            raise not_found(f"Message Batch {batch_id} not found.")
        return batch

    def _view(self, batch: Batch, now: float) -> View:
        return view(batch, now, gradual=self.settings.gradual_counts)

    def _render(self, batch: Batch, seen: View) -> dict[str, object]:
        origin = (self.settings.results_origin or self.origin).rstrip("/")
        return render_batch(batch, seen, self.clock, origin)

    def _new_batch(self, entries: list[tuple[str, JSONObject]]) -> Batch:
        now = self.clock.now()
        return plan_batch(
            self._ids.make("msgbatch_"),
            now,
            self.clock.to_datetime(now),
            self.settings.processing_seconds,
            entries,
            plan_request,
            self.submissions.record([custom_id for custom_id, _ in entries]),
        )


def _single(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _limit(query: Query) -> int:
    raw = _single(query, "limit")
    if raw is None:
        return DEFAULT_LIST_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise invalid_request(
            "limit: Input should be a valid integer, unable to parse string as an integer"
        ) from None
    if limit < 1:
        raise invalid_request("limit: Input should be greater than or equal to 1")
    if limit > MAX_LIST_LIMIT:
        raise invalid_request(f"limit: Input should be less than or equal to {MAX_LIST_LIMIT}")
    return limit
