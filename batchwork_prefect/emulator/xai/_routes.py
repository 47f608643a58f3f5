"""Handlers of xAI's batch routes (auth and faults are handled by ``_app``).

Pages: ``limit`` (the reference's name; ``page_size``, as the guide's examples write it, is
read too) up to 1000, and an opaque ``pagination_token``, null on the last page. Batches
are listed newest first; results in the order requests finished.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from email.utils import format_datetime

import orjson

from .._clock import EmulatedClock
from .._ids import IdFactory
from .._responses import Query, Request, Response, json_response
from .._settings import Settings
from .._store import Store
from .._submissions import Submissions
from ._batch import Entry, XaiBatch, finished_at, metadata, render, state_of
from ._requests import check_add, plan_chat
from ._results import result, uuid_like
from ._wire import xai_error

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
ADD_CALLS = 100
ADD_WINDOW = 30.0
"""xAI's rate limit on add-requests calls: 100 every 30 seconds (per team, rolling)."""


class XAIRoutes:
    """Business logic of the emulated xAI Batch API, one method per route."""

    def __init__(self, settings: Settings, clock: EmulatedClock) -> None:
        self.settings = settings
        self.clock = clock
        self.batches: Store[XaiBatch] = Store()
        self.submissions = Submissions()
        self.origin = ""
        self._rng = random.Random(f"{settings.seed}:xai-batches{settings.id_salt}")
        self._lock = threading.Lock()
        self._created = 0
        self._adds: deque[float] = deque()
        self._ids = IdFactory(settings.seed, "xai-requests", settings.id_salt)

    @property
    def batches_created(self) -> int:
        """Batches stored by creates so far."""
        with self._lock:
            return self._created

    def handle(
        self, name: str, resource_id: str | None, request: Request, query: Query
    ) -> Response:
        """Answer route ``name`` (one of the ``xai.*`` names)."""
        if request.oversize:
            raise xai_error(413, "The request body is too large.")
        if name == "xai.batches.create":
            return self.create(request)
        if name == "xai.batches.list":
            return self.list_batches(query)
        assert resource_id is not None
        batch = self._batch(resource_id)
        if name == "xai.batches.retrieve":
            return self._json(render(batch, self.clock.now(), self.clock))
        if name == "xai.batches.cancel":
            return self.cancel(batch)
        if name == "xai.batches.add":
            return self.add(batch, request)
        if name == "xai.batches.requests":
            return self.requests(batch, query)
        return self.results(batch, query)

    def create(self, request: Request) -> Response:
        """``POST /v1/batches`` ``{"name"}``: an empty batch."""
        try:
            payload = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            raise xai_error(400, "The request body is not valid JSON.") from None
        name = payload.get("name") if isinstance(payload, dict) else None
        if not isinstance(name, str) or not name:
            raise xai_error(400, "name: a batch name is required.")
        now = self.clock.now()
        with self._lock:
            batch = XaiBatch("batch_" + uuid_like(self._rng), name, now, uuid_like(self._rng))
            self._created += 1
        self.batches.add(batch)
        return self._json(render(batch, now, self.clock))

    def list_batches(self, query: Query) -> Response:
        """``GET /v1/batches?limit=&pagination_token=``: newest first."""
        after = _token(query)
        if after is not None and self.batches.get(after) is None:
            raise xai_error(400, "pagination_token: not a token this list gave.")
        page = self.batches.page(_limit(query), before_id=None, after_id=after)
        now = self.clock.now()
        items = [render(batch, now, self.clock) for batch in page.batches]
        token = page.batches[-1].id if page.has_more else None
        return self._json({"batches": items, "pagination_token": token})

    def add(self, batch: XaiBatch, request: Request) -> Response:
        """``POST /v1/batches/{id}/requests``: all the call's requests, or none."""
        now = self.clock.now()
        self._pace(now)
        with batch.lock:
            if batch.cancel_at is not None:
                raise xai_error(400, f"Batch {batch.id} was cancelled: requests cannot be added.")
            if now >= batch.expires:
                raise xai_error(400, f"Batch {batch.id} has expired: requests cannot be added.")
            added = check_add(request.body, batch.index)
            ids = [one.custom_id or uuid_like(self._rng) for one in added]
            numbers = self.submissions.record(ids)
            seconds = self.settings.processing_seconds
            gradual = self.settings.gradual_counts
            for rank, (one, custom_id, number) in enumerate(zip(added, ids, numbers, strict=True)):
                spread = (rank + 1) / len(added) if gradual else 1.0
                entry = Entry(
                    custom_id,
                    one.params,
                    plan_chat(one.params, number),
                    now,
                    now + seconds * spread,
                    number,
                    self._rng.random(),
                )
                batch.index[custom_id] = len(batch.entries)
                batch.entries.append(entry)
        return self._json({})

    def cancel(self, batch: XaiBatch) -> Response:
        """``POST /v1/batches/{id}:cancel``: pending requests are cancelled."""
        now = self.clock.now()
        with batch.lock:
            if batch.cancel_at is None:
                batch.cancel_at = now
                batch.cancel_seconds = self.settings.cancel_seconds
        return self._json(render(batch, now, self.clock))

    def requests(self, batch: XaiBatch, query: Query) -> Response:
        """``GET /v1/batches/{id}/requests``: each request's metadata, as added."""
        now = self.clock.now()
        with batch.lock:
            entries = list(batch.entries)
        start, stop, token = _window(query, len(entries))
        items = [metadata(batch, entry, now, self.clock) for entry in entries[start:stop]]
        return self._json({"batch_request_metadata": items, "pagination_token": token})

    def results(self, batch: XaiBatch, query: Query) -> Response:
        """``GET /v1/batches/{id}/results``: finished requests' results, in finishing order."""
        now = self.clock.now()
        done = _finished(batch, now)
        start, stop, token = _window(query, len(done))
        items = [self._result(batch, finished, entry) for finished, _, entry in done[start:stop]]
        page = b'{"results":[' + b",".join(items) + b'],"pagination_token":'
        return self._json(orjson.Fragment(page + orjson.dumps(token) + b"}"))

    def _result(self, batch: XaiBatch, finished: float, entry: Entry) -> bytes:
        """A finished request's result, rendered once (it no longer changes)."""
        rendered = batch.rendered.get(entry.custom_id)
        if rendered is None:
            settings = self.settings
            rendered = orjson.dumps(
                result(
                    entry,
                    int(self.clock.to_datetime(finished).timestamp()),
                    settings.seed,
                    settings.reply_text,
                    settings.reply_content,
                    settings.reply_usage,
                )
            )
            batch.rendered[entry.custom_id] = rendered
        return rendered

    def _json(self, payload: object) -> Response:
        """A 200 JSON answer with its ``Date`` (the emulated clock's, as a server's)."""
        moment = self.clock.to_datetime(self.clock.now())
        return json_response(200, payload, (("date", format_datetime(moment, usegmt=True)),))

    def _pace(self, now: float) -> None:
        """xAI's rolling limit on add-requests calls: a 429 past it."""
        with self._lock:
            while self._adds and now - self._adds[0] >= ADD_WINDOW:
                self._adds.popleft()
            if len(self._adds) >= ADD_CALLS:
                raise xai_error(
                    429, "Too many add-batch-requests calls: at most 100 every 30 seconds."
                )
            self._adds.append(now)

    def _batch(self, batch_id: str) -> XaiBatch:
        batch = self.batches.get(batch_id)
        if batch is None:
            raise xai_error(404, f"Batch {batch_id} not found.")
        return batch


def _limit(query: Query) -> int:
    values = query.get("limit") or query.get("page_size")
    if not values:
        return DEFAULT_LIMIT
    try:
        limit = int(values[-1])
    except ValueError:
        raise xai_error(400, "limit: expected an integer.") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise xai_error(400, f"limit: expected 1 to {MAX_LIMIT}, got {limit}.")
    return limit


def _token(query: Query) -> str | None:
    values = query.get("pagination_token")
    return values[-1] if values and values[-1] else None


def _window(query: Query, size: int) -> tuple[int, int, str | None]:
    """``(start, stop, next token)`` of an offset-paged list of ``size`` items."""
    limit = _limit(query)
    token = _token(query)
    start = 0
    if token is not None:
        if not token.startswith("o") or not token[1:].isdigit() or int(token[1:]) > size:
            raise xai_error(400, "pagination_token: not a token this list gave.")
        start = int(token[1:])
    stop = min(size, start + limit)
    return start, stop, f"o{stop}" if stop < size else None


def _finished(batch: XaiBatch, now: float) -> list[tuple[float, float, Entry]]:
    """The batch's finished requests (succeeded or failed) in the order they finished;
    kept once none is pending, as that order no longer changes (until requests are added
    or the batch is cancelled)."""
    with batch.lock:
        entries = list(batch.entries)
        settled = batch.settled
    if settled is not None and settled[0] == len(entries) and batch.cancel_at is None:
        return settled[1]
    done = []
    pending = False
    for entry in entries:
        state = state_of(batch, entry, now)
        if state in ("succeeded", "failed"):
            done.append((finished_at(batch, entry, now) or 0.0, entry.order, entry))
        pending = pending or state == "pending"
    done.sort(key=lambda item: (item[0], item[1]))
    if not pending and batch.cancel_at is None:
        with batch.lock:
            batch.settled = (len(entries), done)
    return done
