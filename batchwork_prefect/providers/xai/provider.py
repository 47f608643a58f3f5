"""xAI's Batch API over the shared transport: a named batch, filled in add-requests calls.

A create is several calls: `POST /batches` makes an empty batch named after the part's
digest and request count, then `POST /batches/{id}/requests` adds the requests in chunks
(25 MB each, at most 100 calls per 30 s). Requests run as soon as they are added, so once
the batch exists nothing is ever added twice: a chunk whose answer was lost is settled by
listing the ids the batch holds and adding only the rest, and any other failure after the
batch exists raises `SubmissionOutcomeUnknown` naming it (never a resend). The name finds a
lost batch exactly (`records_digest`); requests a stopped fill never added are counted
errored (`batch_fill_interrupted`) and named in the batch's snapshot.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import orjson
from pydantic import SecretStr

from batchwork_prefect._http.auth import check_headers, resolve_api_key
from batchwork_prefect._http.retry import REFUSED_CREATE_STATUSES, parse_retry_after
from batchwork_prefect._http.transport import Retry, Transport
from batchwork_prefect.errors import (
    MaybeSentError,
    ProtocolError,
    ProviderError,
    SubmissionOutcomeUnknown,
)
from batchwork_prefect.models import BatchResult, BatchSnapshot, BatchStatus, ResultStatus
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers._http_provider import HttpProvider, require_ended
from batchwork_prefect.providers.base import BatchLimits
from batchwork_prefect.providers.xai.batches import (
    ADD_CALLS_PER_WINDOW,
    ADD_WINDOW_SECONDS,
    CHUNK_BYTES,
    DEFAULT_BASE_URL,
    FILL_INTERRUPTED,
    LIMITS,
    NAME,
    batch_name,
    check_batch_id,
    server_time,
    snapshot_from_body,
)
from batchwork_prefect.providers.xai.requests import (
    add_body,
    add_wait,
    chunks,
    encode_request,
    entry_id,
    output_fields,
    request_params,
)
from batchwork_prefect.providers.xai.results import (
    METADATA,
    PAGE,
    Page,
    fill_error,
    not_run,
    parse_result,
)
from batchwork_prefect.registry import PROVIDERS

PAGE_LIMIT = 1000
"""Items asked for per page: the most xAI's results and request lists give."""

LOST_MAKE_SKEW = timedelta(minutes=5)
"""How far back the batch list is read for a batch whose make's answer was lost."""


class XAIFormat:
    """xAI's wire format: building and encoding requests, no network."""

    name = NAME
    request_params = staticmethod(request_params)

    def output_fields(self, output: OutputType, model: str = "") -> dict[str, Any]:
        """`response_format` for `output` (see `output_fields`)."""
        return output_fields(output)

    encode_request = staticmethod(encode_request)
    check_batch_id = staticmethod(check_batch_id)

    def __init__(self, limits: BatchLimits = LIMITS) -> None:
        self.limits = limits


class XAIProvider(HttpProvider, XAIFormat):
    """xAI's Batch API (REST) over the shared transport: `Authorization: Bearer` to its
    origin only. `api_key` or `XAI_API_KEY`; `base_url` (with `/v1`) or `XAI_BASE_URL`;
    `chunk_bytes` caps one add-requests call below xAI's 25 MB."""

    records_digest = True  # the batch's name carries the digest
    label = "xAI"
    api_key_env = PROVIDERS["xai"].api_key_env[0]
    base_url_env = PROVIDERS["xai"].base_url_env or "XAI_BASE_URL"
    default_base_url = DEFAULT_BASE_URL

    def __init__(
        self,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = 4,
        limits: BatchLimits = LIMITS,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        chunk_bytes: int = CHUNK_BYTES,
    ) -> None:
        self._api_key = resolve_api_key(api_key, self.api_key_env, self.label)
        super().__init__(limits)
        reserved = {"authorization": f"pass the key as api_key=... (or set {self.api_key_env})"}
        self._sleep = sleep
        self._clock = clock
        self._chunk_bytes = min(chunk_bytes, CHUNK_BYTES)  # smaller calls, never larger
        self._adds: list[float] = []
        self._transport = Transport(
            provider=self.name,
            base_url=base_url or os.environ.get(self.base_url_env) or self.default_base_url,
            auth_headers=self._auth_headers,
            headers=check_headers(headers, reserved=reserved),
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            sleep=sleep,
            secrets=self._secrets,
        )

    def create(self, encoded: Sequence[bytes], *, digest: str) -> BatchSnapshot:
        """Make a batch named after `digest` and the request count, then add the requests.

        A lost answer to the make is settled by the name in the batch list; a definitive
        refusal of it, or of the first chunk (nothing added), raises as it is. Past that,
        the batch exists and may be running: whatever stops the fill raises
        `SubmissionOutcomeUnknown` with its id, never a second add of a request.
        """
        attempted_at = datetime.now(UTC)
        name = batch_name(digest, len(encoded))

        def unknown(cause: str, batch_id: str | None) -> SubmissionOutcomeUnknown:
            return SubmissionOutcomeUnknown(
                provider=self.name,
                request_count=len(encoded),
                digest=digest,
                attempted_at=attempted_at,
                cause=cause,
                batch_id=batch_id,
            )

        batch_id = self._make(name, digest, len(encoded), attempted_at, unknown)
        try:
            refused = self._fill(batch_id, encoded)
            if refused is None:
                return self.retrieve(batch_id)
        except Exception as exc:  # the batch exists: never report "nothing was made"
            raise unknown(f"{type(exc).__name__}: {exc}", batch_id) from None
        self._discard(batch_id)  # the first add call was refused: the batch holds nothing
        raise refused

    def retrieve(self, batch_id: str) -> BatchSnapshot:
        """GET the batch."""
        url = self._transport.url(f"/batches/{check_batch_id(batch_id)}")
        response = self._transport.request("GET", url, retry=Retry.IDEMPOTENT)
        return self._snapshot(
            self._json(response, batch_id),
            now=server_time(response.headers.get("date")),
            retry_after=parse_retry_after(response.headers),
        )

    def cancel(self, batch_id: str) -> BatchSnapshot:
        """POST `:cancel` for the batch."""
        url = self._transport.url(f"/batches/{check_batch_id(batch_id)}:cancel")
        response = self._transport.request("POST", url, retry=Retry.IDEMPOTENT)
        return self._snapshot(
            self._json(response, batch_id), now=server_time(response.headers.get("date"))
        )

    def list_batches(self, *, created_after: datetime | None = None) -> Iterator[BatchSnapshot]:
        """The team's batches, newest first, down to `created_after`.

        xAI does not say in what order it lists batches, so the whole list is read (xAI
        keeps a batch until it expires), then sorted by creation time.
        """
        listed = (self._snapshot(item, now=now) for item, now in self._items("/batches", "batches"))
        found = [
            batch
            for batch in listed
            if not created_after or not batch.created_at or batch.created_at >= created_after
        ]
        found.sort(key=lambda batch: (batch.created_at or _NEVER, batch.id), reverse=True)
        return iter(found)

    def results(
        self, snapshot: BatchSnapshot, *, custom_ids: Sequence[str] | None = None
    ) -> Iterator[BatchResult | bytes | BatchSnapshot]:
        """The results of an ended batch, page by page; raw bytes for an entry that does
        not parse.

        xAI's results hold the requests that ran. In a cancelled or expired batch, or one
        whose fill stopped, the rest get their outcome from the batch's request list:
        `canceled`, `expired`, or `errored` (`batch_fill_interrupted`) for a submitted
        request (`custom_ids`) the batch never received. Without `custom_ids` those cannot
        be named: the stream then ends with a snapshot counting what the batch holds.
        """
        batch_id = check_batch_id(snapshot.id)
        require_ended(snapshot)
        ended = self.retrieve(batch_id)
        if not ended.status.is_terminal:
            raise ProtocolError(f"batch {batch_id} was reported ended and is now running")
        scrub = self._transport.scrub
        seen: set[str] = set()
        for entry, _ in self._items(f"/batches/{batch_id}/results", "results"):
            result = parse_result(entry, batch_id, scrub)
            if result is None:
                yield entry
                continue
            seen.add(result.custom_id)
            yield result
        missing = any(problem.code == FILL_INTERRUPTED for problem in ended.errors)
        counts = ended.request_counts
        if not (missing or counts.canceled or counts.expired):
            return
        states = self._states(batch_id)
        unrun = ResultStatus.EXPIRED if ended.status is BatchStatus.EXPIRED else None
        for custom_id in custom_ids if custom_ids is not None else list(states):
            if custom_id in seen:
                continue
            seen.add(custom_id)
            state = states.get(custom_id)
            if state is None:
                yield not_run(custom_id, ResultStatus.ERRORED, batch_id, fill_error(batch_id))
            elif state == "cancelled":
                yield not_run(custom_id, ResultStatus.CANCELED, batch_id)
            elif state == "pending" and unrun is not None:
                yield not_run(custom_id, unrun, batch_id)
        if custom_ids is None and missing:
            lacking = counts.total - len(states)
            held = counts.model_copy(
                update={"total": len(states), "errored": counts.errored - lacking}
            )
            yield ended.model_copy(update={"request_counts": held})

    # -- the create's steps

    def _make(
        self,
        name: str,
        digest: str,
        count: int,
        attempted_at: datetime,
        unknown: Callable[[str, str | None], SubmissionOutcomeUnknown],
    ) -> str:
        """The id of a new empty batch named `name`; if the answer was lost, or was a
        server error, the batch the list holds under that name."""
        try:
            response = self._transport.request(
                "POST",
                self._transport.url("/batches"),
                retry=Retry.UNLESS_SENT,
                content=orjson.dumps({"name": name}),
            )
            return self._snapshot(self._json(response, "the batch create")).id
        except ProviderError as exc:
            if exc.status_code in REFUSED_CREATE_STATUSES:
                raise
            failure: Exception = exc
        except (MaybeSentError, ProtocolError) as exc:
            failure = exc
        cause = f"{type(failure).__name__}: {failure}"
        try:
            named = [
                batch.id
                for batch in self.list_batches(created_after=attempted_at - LOST_MAKE_SKEW)
                if batch.digest == digest and batch.request_counts.total == count
            ]
        except Exception as exc:
            raise unknown(f"{cause}; then listing failed: {exc}", None) from None
        if not named and isinstance(failure, ProviderError):
            raise failure  # a server error that made nothing
        if len(named) != 1:
            raise unknown(f"{cause}; {len(named)} batches carry its name", None)
        return named[0]

    def _fill(self, batch_id: str, encoded: Sequence[bytes]) -> ProviderError | None:
        """Add every request of `encoded` to the batch, once. A chunk whose answer was lost
        (or was a server error) is settled by the ids the batch holds, and the rest added;
        a second such loss raises. A refusal of the first call is returned: nothing was
        added."""
        todo = list(encoded)
        first = True
        for settling in (False, True):
            try:
                for span in chunks(todo, self._chunk_bytes):
                    try:
                        self._add(batch_id, todo[span.start : span.stop])
                    except ProviderError as exc:
                        if exc.status_code not in REFUSED_CREATE_STATUSES:
                            # a server error: the call may have added its requests
                            raise MaybeSentError(str(exc), method=exc.method, url=exc.url) from None
                        if first:
                            return exc
                        raise
                    first = False
                return None
            except MaybeSentError:
                if settling:
                    raise
            held = set(self._states(batch_id))
            todo = [entry for entry in encoded if entry_id(entry) not in held]
            first = False
        return None  # not reached: the settling pass returns or raises

    def _add(self, batch_id: str, entries: list[bytes]) -> None:
        """One add-requests call, paced to xAI's rate limit on them."""
        wait = add_wait(
            self._adds, self._clock(), calls=ADD_CALLS_PER_WINDOW, window=ADD_WINDOW_SECONDS
        )
        if wait > 0:
            self._sleep(wait)
        self._adds = [*self._adds[-ADD_CALLS_PER_WINDOW:], self._clock()]
        url = self._transport.url(f"/batches/{batch_id}/requests")
        self._transport.request("POST", url, retry=Retry.UNLESS_SENT, content=add_body(entries))

    def _discard(self, batch_id: str) -> None:
        """Cancel a batch that holds nothing (best effort): it is no part's batch."""
        with contextlib.suppress(Exception):  # an empty batch left behind costs nothing
            self.cancel(batch_id)

    # -- reading

    def _states(self, batch_id: str) -> dict[str, str]:
        """`{batch_request_id: state}` of every request the batch holds."""
        states: dict[str, str] = {}
        for item, _ in self._items(f"/batches/{batch_id}/requests", "batch_request_metadata"):
            try:
                metadata = METADATA.decode(item)
            except (msgspec.ValidationError, msgspec.DecodeError):
                raise ProtocolError(f"xAI sent malformed request metadata for {batch_id}") from None
            states[metadata.batch_request_id] = metadata.state
        return states

    def _items(self, path: str, field: str) -> Iterator[tuple[bytes, datetime | None]]:
        """Every item of a paged list with its page's server time, each page asked for
        with `pagination_token`."""
        params: dict[str, str | int] = {"limit": PAGE_LIMIT}
        tokens: set[str] = set()
        while True:
            response = self._transport.request(
                "GET", self._transport.url(path), retry=Retry.IDEMPOTENT, params=params
            )
            try:
                page: Page = PAGE.decode(response.content)
            except (msgspec.ValidationError, msgspec.DecodeError):
                raise ProtocolError(f"{self.label} sent a malformed page of {path}") from None
            now = server_time(response.headers.get("date"))
            for item in getattr(page, field):
                yield bytes(item), now
            token = page.pagination_token
            if not token:
                return
            if token in tokens:
                raise ProtocolError(f"{self.label} sent the same page token twice for {path}")
            tokens.add(token)
            params = {"limit": PAGE_LIMIT, "pagination_token": token}

    def _snapshot(
        self, body: Any, *, now: datetime | None = None, retry_after: float | None = None
    ) -> BatchSnapshot:
        if isinstance(body, bytes):
            try:
                body = orjson.loads(body)
            except orjson.JSONDecodeError:
                raise ProtocolError(f"{self.label} sent a malformed batch") from None
        return snapshot_from_body(
            body, provider=self.name, now=now, retry_after=retry_after, scrub=self._transport.scrub
        )

    def _auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key.get_secret_value()}"}

    def _secrets(self) -> list[str]:
        return [self._api_key.get_secret_value()]


_NEVER = datetime.min.replace(tzinfo=UTC)
