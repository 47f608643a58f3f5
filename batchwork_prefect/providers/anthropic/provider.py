"""Anthropic's Message Batches API over the shared transport."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime

import httpx
from pydantic import SecretStr

from batchwork_prefect._http.auth import check_headers, resolve_api_key
from batchwork_prefect._http.body import Body
from batchwork_prefect._http.resume import resumed_lines
from batchwork_prefect._http.retry import parse_retry_after
from batchwork_prefect._http.transport import Retry, Transport
from batchwork_prefect.errors import (
    ResultsNotReadyError,
)
from batchwork_prefect.models import (
    BatchResult,
    BatchSnapshot,
)
from batchwork_prefect.providers._http_provider import HttpProvider, require_ended
from batchwork_prefect.providers.anthropic.results import parse_result_line
from batchwork_prefect.providers.anthropic.wire import (
    API_VERSION,
    BATCHES_PATH,
    DEFAULT_BASE_URL,
    LIMITS,
    NAME,
    AnthropicFormat,
    check_batch_id,
    snapshot_from_body,
)
from batchwork_prefect.providers.base import BatchLimits

_RESERVED_HEADERS = {
    "x-api-key": "pass the key as api_key=... (or set ANTHROPIC_API_KEY)",
    "authorization": "pass the key as api_key=... (or set ANTHROPIC_API_KEY)",
    "anthropic-version": (
        f"this client speaks API version {API_VERSION} only; beta features go in 'anthropic-beta'"
    ),
}
"""Caller headers that would override the credentials or the API version (lowercase)."""
_BODY_PREFIX = b'{"requests":['
_BODY_SUFFIX = b"]}"


class AnthropicProvider(HttpProvider, AnthropicFormat):
    """Anthropic's Message Batches API over the shared transport."""

    records_digest = False  # a batch carries no client-set tag
    label = "Anthropic"

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
    ) -> None:
        self._api_key = resolve_api_key(api_key, "ANTHROPIC_API_KEY", self.label)
        super().__init__(limits)
        self._sleep = sleep
        self._transport = Transport(
            provider=NAME,
            base_url=base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL,
            auth_headers=self._auth_headers,
            headers={
                **check_headers(headers, reserved=_RESERVED_HEADERS),
                "anthropic-version": API_VERSION,
            },
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            sleep=sleep,
        )

    def create(self, encoded: Sequence[bytes], *, digest: str) -> BatchSnapshot:
        """Submit one batch. A lost answer raises `SubmissionOutcomeUnknown`, never a resend."""
        body = Body(encoded, prefix=_BODY_PREFIX, separator=b",", suffix=_BODY_SUFFIX)
        return self._post_create(
            BATCHES_PATH,
            body,
            request_count=len(encoded),
            digest=digest,
            snapshot=snapshot_from_body,
        )

    def retrieve(self, batch_id: str) -> BatchSnapshot:
        """GET the batch."""
        url = self._transport.url(f"{BATCHES_PATH}/{check_batch_id(batch_id)}")
        response = self._transport.request("GET", url, retry=Retry.IDEMPOTENT)
        return snapshot_from_body(
            self._json(response, batch_id), retry_after=parse_retry_after(response.headers)
        )

    def cancel(self, batch_id: str) -> BatchSnapshot:
        """POST a cancel for the batch."""
        url = self._transport.url(f"{BATCHES_PATH}/{check_batch_id(batch_id)}/cancel")
        response = self._transport.request("POST", url, retry=Retry.IDEMPOTENT)
        return snapshot_from_body(self._json(response, batch_id))

    def list_batches(self, *, created_after: datetime | None = None) -> Iterator[BatchSnapshot]:
        """Every batch of the workspace, newest first, down to `created_after`."""
        return self._pages(
            BATCHES_PATH,
            cursor="after_id",
            created_after=created_after,
            snapshot=snapshot_from_body,
        )

    def results(
        self, snapshot: BatchSnapshot, *, custom_ids: Sequence[str] | None = None
    ) -> Iterator[BatchResult | bytes]:
        """The results of an ended batch, streamed; a cut stream is read again and resumed.

        Yields raw bytes for a line that does not parse, so the caller can report it.
        Anthropic's results hold a line for every request, so `custom_ids` is not needed.
        """
        url = self._results_url(snapshot)
        batch_id = snapshot.id
        for lines in resumed_lines(
            self._transport, url, what=f"results of {batch_id}", sleep=self._sleep
        ):
            for line in lines:
                yield parse_result_line(line, batch_id) or line

    def _auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self._api_key.get_secret_value()}

    def _results_url(self, snapshot: BatchSnapshot) -> httpx.URL:
        batch_id = check_batch_id(snapshot.id)
        require_ended(snapshot)
        if snapshot.results_url is None:
            raise ResultsNotReadyError(f"batch {batch_id} has ended but offers no results_url")
        return self._transport.check_same_origin(snapshot.results_url)
