"""What every provider over the shared transport does the same way: the paid create, paging
through the batch list, JSON answers, the results-ready check, repr and close."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from batchwork_prefect._http.transport import Retry, Transport
from batchwork_prefect.errors import (
    MaybeSentError,
    ProtocolError,
    ResultsNotReadyError,
    SubmissionOutcomeUnknown,
)
from batchwork_prefect.models import BatchSnapshot

Snapshot = Callable[[Any], BatchSnapshot]
"""A provider's reading of one batch object as a `BatchSnapshot` (raises `ProtocolError`)."""


def require_ended(snapshot: BatchSnapshot) -> str:
    """The batch's id, once it has ended; else `ResultsNotReadyError`."""
    if not snapshot.status.is_terminal:
        raise ResultsNotReadyError(
            f"batch {snapshot.id} is {snapshot.status.value}; results come once it has ended"
        )
    return snapshot.id


class HttpProvider:
    """The calls both wire formats make alike, over `self._transport`."""

    name: str
    label: str
    """The provider's name as messages give it (`Anthropic`, `OpenAI`, `Groq`)."""
    _transport: Transport

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        """The configured API base URL."""
        return str(self._transport.base_url)

    @property
    def endpoint(self) -> str:
        """Where this provider's batches live (see `BatchProvider.endpoint`)."""
        return self.base_url.rstrip("/")

    def close(self) -> None:
        """Close connections."""
        self._transport.close()

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ProtocolError(f"{self.label} sent a non-JSON answer for {what}") from None

    def _post_create(
        self, path: str, content: Any, *, request_count: int, digest: str, snapshot: Snapshot
    ) -> BatchSnapshot:
        """POST the create once. A lost or unreadable answer raises
        `SubmissionOutcomeUnknown` (with the batch id if the answer named one), never a
        resend: the create is the paid act."""
        attempted_at = datetime.now(UTC)
        answer: Any = None
        try:
            response = self._transport.request(
                "POST", self._transport.url(path), retry=Retry.UNLESS_SENT, content=content
            )
            answer = orjson.loads(response.content)
            return snapshot(answer)
        except (MaybeSentError, orjson.JSONDecodeError, ProtocolError) as exc:
            batch_id = answer.get("id") if isinstance(answer, dict) else None
            raise SubmissionOutcomeUnknown(
                provider=self.name,
                request_count=request_count,
                digest=digest,
                attempted_at=attempted_at,
                cause=f"{type(exc).__name__}: {exc}",
                batch_id=batch_id if isinstance(batch_id, str) else None,
            ) from None

    def _pages(
        self, path: str, *, cursor: str, created_after: datetime | None, snapshot: Snapshot
    ) -> Iterator[BatchSnapshot]:
        """Every batch of the list at `path`, newest first, down to `created_after`; each
        next page asks for the batches after the last one (query parameter `cursor`)."""
        params: dict[str, str | int] = {"limit": 100}
        while True:
            response = self._transport.request(
                "GET", self._transport.url(path), retry=Retry.IDEMPOTENT, params=params
            )
            page = self._json(response, "list")
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, list):
                raise ProtocolError(f"{self.label} batch list lacks 'data'")
            for item in data:
                batch = snapshot(item)
                if created_after and batch.created_at and batch.created_at < created_after:
                    return
                yield batch
            last = page.get("last_id") or (data[-1].get("id") if data else None)
            if not page.get("has_more") or not data or not isinstance(last, str):
                return
            params = {"limit": 100, cursor: last}
