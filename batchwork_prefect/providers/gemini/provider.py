"""Gemini's Batch API over the shared transport: requests inline, or a JSONL file uploaded
through the Files API's resumable upload, then a batch of them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from batchwork_prefect._http.auth import check_headers, resolve_api_key
from batchwork_prefect._http.body import Body
from batchwork_prefect._http.resume import resumed_lines
from batchwork_prefect._http.retry import parse_retry_after
from batchwork_prefect._http.transport import Retry, Transport
from batchwork_prefect.errors import ConfigurationError, ProtocolError, UnsafeURLError
from batchwork_prefect.models import (
    BatchResult,
    BatchSnapshot,
    BatchStatus,
    RequestCounts,
    ResultStatus,
    trusted,
)
from batchwork_prefect.providers._http_provider import HttpProvider, require_ended
from batchwork_prefect.providers.base import BatchLimits
from batchwork_prefect.providers.gemini.batches import (
    API_VERSION,
    DEFAULT_BASE_URL,
    INLINE_MAX_BYTES,
    LIMITS,
    NAME,
    check_batch_id,
    check_file_name,
    check_model,
    display_name,
    snapshot_from_body,
)
from batchwork_prefect.providers.gemini.requests import (
    encode_request,
    inline_entry,
    output_fields,
    request_params,
)
from batchwork_prefect.providers.gemini.results import (
    inline_lines,
    parse_result_line,
    undone,
    unrun_results,
)
from batchwork_prefect.registry import PROVIDERS

API_KEY_ENVS = PROVIDERS[NAME].api_key_env
"""Where the key is read from, in the google-genai SDK's order: GOOGLE_API_KEY wins when
both are set (`_api_client.get_env_api_key`)."""
BASE_URL_ENV = PROVIDERS[NAME].base_url_env or "GOOGLE_GEMINI_BASE_URL"
"""The SDK's base URL variable (without the API version, which each path carries)."""
FILE_MIME_TYPE = "application/jsonl"
PAGE_SIZE = 100

_V = f"/{API_VERSION}"
_RESERVED_HEADERS = {
    "x-goog-api-key": "pass the key as api_key=... (or set GEMINI_API_KEY)",
    "authorization": "pass the key as api_key=... (or set GEMINI_API_KEY)",
}
_UNRUN = frozenset({BatchStatus.EXPIRED, BatchStatus.CANCELLED, BatchStatus.FAILED})


class GeminiFormat:
    """Gemini's wire format: building and encoding requests, no network."""

    name = NAME
    output_fields = staticmethod(output_fields)
    request_params = staticmethod(request_params)
    encode_request = staticmethod(encode_request)
    check_batch_id = staticmethod(check_batch_id)

    def __init__(self, limits: BatchLimits = LIMITS) -> None:
        self.limits = limits


class GeminiProvider(HttpProvider, GeminiFormat):
    """Gemini's Batch API (the Gemini Developer API): `x-goog-api-key` to its origin only.

    Credentials as the google-genai SDK takes them: `api_key`, else `GOOGLE_API_KEY`, else
    `GEMINI_API_KEY`; `base_url` (without `/v1beta`) or `GOOGLE_GEMINI_BASE_URL`.
    """

    records_digest = True  # the create records it in the batch's displayName
    label = "Gemini"

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
        if api_key is None and not any(os.environ.get(env) for env in API_KEY_ENVS):
            raise ConfigurationError(
                "no Gemini API key: pass api_key=... or set GEMINI_API_KEY (or GOOGLE_API_KEY)"
            )
        env = next((env for env in API_KEY_ENVS if os.environ.get(env)), API_KEY_ENVS[1])
        self._api_key = resolve_api_key(api_key, env, self.label)
        super().__init__(limits)
        self._sleep = sleep
        self._transport = Transport(
            provider=NAME,
            base_url=base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
            auth_headers=self._auth_headers,
            headers=check_headers(headers, reserved=_RESERVED_HEADERS),
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            sleep=sleep,
        )

    def create(self, encoded: Sequence[bytes], *, digest: str) -> BatchSnapshot:
        """Submit one batch: inline when the create's body stays within 20 MB, else its
        requests uploaded as a JSONL file first (a failed upload made no batch and raises
        as it is). The digest and request count go into `displayName`, so a create whose
        answer is lost (`SubmissionOutcomeUnknown`, never a resend) is found by its digest."""
        if not encoded:
            raise ConfigurationError("a batch needs at least one request")
        model = _model_of(encoded[0])
        name = display_name(digest, len(encoded)).encode()
        head = b'{"batch":{"displayName":"' + name + b'","inputConfig":'
        entries = [inline_entry(line) for line in encoded]
        body = Body(
            entries, prefix=head + b'{"requests":{"requests":[', separator=b",", suffix=b"]}}}}"
        )
        content: bytes | Body = body
        if len(body) > INLINE_MAX_BYTES:
            file_name = self._upload(encoded, digest)
            content = head + orjson.dumps({"fileName": file_name}) + b"}}"
        return self._post_create(
            f"{_V}/models/{model}:batchGenerateContent",
            content,
            request_count=len(encoded),
            digest=digest,
            snapshot=self._snapshot,
        )

    def retrieve(self, batch_id: str) -> BatchSnapshot:
        """GET the batch operation."""
        response = self._get_batch(batch_id)
        return self._snapshot(
            self._json(response, batch_id), retry_after=parse_retry_after(response.headers)
        )

    def cancel(self, batch_id: str) -> BatchSnapshot:
        """POST `:cancel` (it answers with an empty object), then GET the batch."""
        url = self._transport.url(f"{_V}/{check_batch_id(batch_id)}:cancel")
        self._transport.request("POST", url, retry=Retry.IDEMPOTENT, content=b"{}")
        return self.retrieve(batch_id)

    def delete(self, batch_id: str) -> None:
        """DELETE the batch operation: Gemini forgets it (its results with it)."""
        url = self._transport.url(f"{_V}/{check_batch_id(batch_id)}")
        self._transport.request("DELETE", url, retry=Retry.IDEMPOTENT)

    def list_batches(self, *, created_after: datetime | None = None) -> Iterator[BatchSnapshot]:
        """Every batch of the project, page by page (`pageToken`), leaving out those made
        before `created_after`. Gemini documents no order for the list, so every page is
        read."""
        params: dict[str, str | int] = {"pageSize": PAGE_SIZE}
        url = self._transport.url(f"{_V}/batches")
        while True:
            response = self._transport.request("GET", url, retry=Retry.IDEMPOTENT, params=params)
            page = self._json(response, "list")
            operations = page.get("operations", []) if isinstance(page, dict) else None
            if not isinstance(operations, list):
                raise ProtocolError("Gemini batch list lacks 'operations'")
            for item in operations:
                batch = self._snapshot(item)
                if created_after and batch.created_at and batch.created_at < created_after:
                    continue
                yield batch
            token = page.get("nextPageToken")
            if not isinstance(token, str) or not token or not operations:
                return
            params = {"pageSize": PAGE_SIZE, "pageToken": token}

    def results(
        self, snapshot: BatchSnapshot, *, custom_ids: Sequence[str] | None = None
    ) -> Iterator[BatchResult | bytes | BatchSnapshot]:
        """The results of an ended batch: its responses file (downloaded, a cut stream read
        again and resumed) or its inline responses. Raw bytes are yielded for a line that
        does not parse. Then, in an expired, cancelled or failed batch, each of `custom_ids`
        the results lack gets its result (`unrun_results`), and the stream ends with the
        batch's snapshot, its counts settled by the results read (`settle_counts`)."""
        batch_id = check_batch_id(snapshot.id)
        require_ended(snapshot)
        body = self._json(self._get_batch(batch_id), batch_id)
        ended = self._snapshot(body)
        if not ended.status.is_terminal:
            raise ProtocolError(f"batch {batch_id} was reported ended and is now running")
        output = body["metadata"].get("output")
        seen: set[str] = set()
        tally = dict.fromkeys(ResultStatus, 0)
        scrub = self._transport.scrub
        for lines in self._output_lines(output, batch_id):
            for line in lines:
                item = parse_result_line(line, batch_id, scrub)
                if item is None:
                    yield line
                    continue
                if item.status is ResultStatus.ERRORED and ended.status in _UNRUN:
                    item = undone(item, ended.status)
                seen.add(item.custom_id)
                tally[item.status] += 1
                yield item
        if ended.status in _UNRUN and custom_ids is not None:
            reason = "; ".join(f"{p.code}: {p.message}" for p in ended.errors)
            for item in unrun_results(ended.status, custom_ids, seen, batch_id, reason):
                tally[item.status] += 1
                yield item
        settled = settle_counts(snapshot, tally) if ended.status in _UNRUN else snapshot
        if settled is not snapshot:
            yield settled

    def _output_lines(self, output: Any, batch_id: str) -> Iterator[list[bytes]]:
        if output is None:
            return
        if not isinstance(output, dict):
            raise ProtocolError(f"batch {batch_id} has an unreadable output")
        file_name = output.get("responsesFile")
        if file_name is not None:
            try:
                name = check_file_name(file_name)
            except UnsafeURLError:
                raise ProtocolError(
                    f"batch {batch_id} names an unusable responses file: {file_name!r}"
                ) from None
            url = self._transport.url(f"{_V}/{name}:download").copy_merge_params({"alt": "media"})
            what = f"responses file {name} of {batch_id}"
            yield from resumed_lines(self._transport, url, what=what, sleep=self._sleep)
        elif "inlinedResponses" in output:
            yield list(inline_lines(output))

    def _upload(self, encoded: Sequence[bytes], digest: str) -> str:
        """The requests as a JSONL file, by the Files API's resumable upload: a start that
        answers with the upload URL (`x-goog-upload-url`, which must be on the API's origin),
        then the bytes with `upload, finalize`. A resent upload can only leave a spare file
        (files expire), never a second batch."""
        data = Body(encoded, separator=b"\n", suffix=b"\n")
        start = self._transport.request(
            "POST",
            self._transport.url(f"/upload/{API_VERSION}/files"),
            retry=Retry.IDEMPOTENT,
            content=orjson.dumps({"file": {"displayName": f"batchwork-{digest[:16]}"}}),
            headers={
                "x-goog-upload-protocol": "resumable",
                "x-goog-upload-command": "start",
                "x-goog-upload-header-content-length": str(len(data)),
                "x-goog-upload-header-content-type": FILE_MIME_TYPE,
            },
        )
        location = start.headers.get("x-goog-upload-url")
        if not location:
            raise ProtocolError("Gemini answered the upload start without x-goog-upload-url")
        upload_url = self._transport.check_same_origin(location)
        done = self._transport.request(
            "POST",
            upload_url,
            retry=Retry.IDEMPOTENT,
            content=data,
            content_type=FILE_MIME_TYPE,
            headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"},
        )
        if done.headers.get("x-goog-upload-status", "final") != "final":
            raise ProtocolError("Gemini did not finalize the uploaded requests file")
        answer = self._json(done, "the file upload")
        file = answer.get("file") if isinstance(answer, dict) else None
        name = file.get("name") if isinstance(file, dict) else None
        try:
            return check_file_name(name)
        except UnsafeURLError:
            raise ProtocolError(
                f"Gemini answered the file upload without a usable file name: {name!r}"
            ) from None

    def _get_batch(self, batch_id: str) -> httpx.Response:
        url = self._transport.url(f"{_V}/{check_batch_id(batch_id)}")
        return self._transport.request("GET", url, retry=Retry.IDEMPOTENT)

    def _snapshot(self, body: Any, *, retry_after: float | None = None) -> BatchSnapshot:
        return snapshot_from_body(body, retry_after=retry_after, scrub=self._transport.scrub)

    def _auth_headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._api_key.get_secret_value()}


def settle_counts(snapshot: BatchSnapshot, tally: Mapping[ResultStatus, int]) -> BatchSnapshot:
    """An expired, cancelled or failed batch's snapshot with its counts taken from the
    results read, when they account for every request; else the snapshot as it is.

    `batchStats` counts what Gemini processed, but an expired batch offers no results of
    them: every request without a result is expired there, and the counts say so."""
    values = {
        "total": snapshot.request_counts.total,
        "processing": 0,
        "succeeded": tally[ResultStatus.SUCCEEDED],
        "errored": tally[ResultStatus.ERRORED],
        "canceled": tally[ResultStatus.CANCELED],
        "expired": tally[ResultStatus.EXPIRED],
    }
    if sum(tally.values()) != values["total"]:
        return snapshot
    counts = trusted(RequestCounts, values)
    if counts == snapshot.request_counts:
        return snapshot
    return snapshot.model_copy(update={"request_counts": counts})


def _model_of(line: bytes) -> str:
    """The model a request names (`models/<name>`), checked for the create's URL path."""
    request = orjson.loads(line).get("request")
    model = request.get("model") if isinstance(request, dict) else None
    if not isinstance(model, str):
        raise ConfigurationError("a Gemini request must name its model (models/<name>)")
    return check_model(model)
