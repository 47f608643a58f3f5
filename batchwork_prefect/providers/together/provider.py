"""Together's Batch API over the shared transport: a JSONL file uploaded, then a batch of it."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from batchwork_prefect._http.auth import check_headers, resolve_api_key
from batchwork_prefect._http.body import multipart_file
from batchwork_prefect._http.resume import resumed_lines
from batchwork_prefect._http.retry import parse_retry_after
from batchwork_prefect._http.transport import Retry, Transport
from batchwork_prefect.errors import ProtocolError, ProviderError, UnsafeURLError
from batchwork_prefect.models import BatchResult, BatchSnapshot, ResultStatus
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers._files import file_results
from batchwork_prefect.providers._http_provider import HttpProvider, require_ended
from batchwork_prefect.providers.base import BatchLimits
from batchwork_prefect.providers.openai.results import input_custom_id
from batchwork_prefect.providers.together.batches import (
    COMPLETION_WINDOW,
    DEFAULT_BASE_URL,
    ENDPOINT,
    LIMITS,
    NAME,
    PURPOSE,
    check_batch_id,
    check_file_id,
    input_name,
    parse_time,
    read_input_name,
    settled_counts,
    snapshot_from_body,
)
from batchwork_prefect.providers.together.requests import (
    encode_request,
    output_fields,
    request_params,
)
from batchwork_prefect.providers.together.results import parse_result_line
from batchwork_prefect.registry import PROVIDERS

_NEVER = datetime.min.replace(tzinfo=UTC)


class TogetherFormat:
    """Together's wire format: building and encoding requests, no network."""

    name = NAME
    request_params = staticmethod(request_params)
    encode_request = staticmethod(encode_request)
    check_batch_id = staticmethod(check_batch_id)

    def output_fields(self, output: OutputType, model: str = "") -> dict[str, Any]:
        """`response_format` for `output` (see `output_fields`)."""
        return output_fields(output)

    def __init__(self, limits: BatchLimits = LIMITS) -> None:
        self.limits = limits


class TogetherProvider(HttpProvider, TogetherFormat):
    """Together's Batch API: `Authorization: Bearer` to its origin only.

    Credentials as the together SDK takes them: `api_key` or `TOGETHER_API_KEY`,
    `base_url` (without `/v1`) or `TOGETHER_BASE_URL` (default https://api.together.ai).
    """

    records_digest = True  # in the input file's name, which the batch names
    label = "Together"

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
        self._api_key = resolve_api_key(api_key, PROVIDERS[NAME].api_key_env[0], self.label)
        super().__init__(limits)
        self._sleep = sleep
        # input file id -> (digest, count) or None: a file never changes, so read once
        self._inputs: dict[str, tuple[str, int] | None] = {}
        self._inputs_lock = threading.Lock()
        reserved = {"authorization": "pass the key as api_key=... (or set TOGETHER_API_KEY)"}
        self._transport = Transport(
            provider=NAME,
            base_url=base_url
            or os.environ.get(PROVIDERS[NAME].base_url_env or "")
            or DEFAULT_BASE_URL,
            auth_headers=self._auth_headers,
            headers=check_headers(headers, reserved=reserved),
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            sleep=sleep,
            secrets=self._secrets,
        )

    def create(self, encoded: Sequence[bytes], *, digest: str) -> BatchSnapshot:
        """Upload the requests as a file named after the digest and count, then make a
        batch of it. A lost answer raises `SubmissionOutcomeUnknown` (never a resend); the
        batch is then found by the digest its input file's name carries."""
        count = len(encoded)
        file_id = self._upload(encoded, digest)
        with self._inputs_lock:
            self._inputs[file_id] = (digest, count)
        payload = {
            "input_file_id": file_id,
            "endpoint": ENDPOINT,
            "completion_window": COMPLETION_WINDOW,
        }
        return self._post_create(
            "/v1/batches",
            orjson.dumps(payload),
            request_count=count,
            digest=digest,
            snapshot=self._created,
        )

    def retrieve(self, batch_id: str) -> BatchSnapshot:
        """GET the batch (and, once per input file, the file's name)."""
        response = self._get_batch(batch_id)
        return self._snapshot(
            self._json(response, batch_id), retry_after=parse_retry_after(response.headers)
        )

    def cancel(self, batch_id: str) -> BatchSnapshot:
        """POST a cancel for the batch."""
        url = self._transport.url(f"/v1/batches/{check_batch_id(batch_id)}/cancel")
        response = self._transport.request("POST", url, retry=Retry.IDEMPOTENT)
        return self._snapshot(self._json(response, batch_id))

    def list_batches(self, *, created_after: datetime | None = None) -> Iterator[BatchSnapshot]:
        """Every batch of the account, newest first, down to `created_after`.

        Together answers the whole list in one page; the input file of each batch listed
        is read once for its digest and count.
        """
        response = self._transport.request(
            "GET", self._transport.url("/v1/batches"), retry=Retry.IDEMPOTENT
        )
        page = self._json(response, "list")
        if not isinstance(page, list) or not all(isinstance(item, dict) for item in page):
            raise ProtocolError("Together's batch list is not a list of batches")
        bodies = [(_created_at(item), item) for item in page]
        bodies.sort(key=lambda pair: (pair[0] or _NEVER, str(pair[1].get("id"))), reverse=True)
        for created, body in bodies:
            if created_after is not None and created is not None and created < created_after:
                return
            yield self._snapshot(body)

    def results(
        self, snapshot: BatchSnapshot, *, custom_ids: Sequence[str] | None = None
    ) -> Iterator[BatchResult | bytes | BatchSnapshot]:
        """The results of an ended batch: its output file, then its error file, streamed,
        each resumed if cut; raw bytes for a line that does not parse. In an expired,
        cancelled or failed batch each submitted request neither file holds gets its
        outcome (the ids are `custom_ids`, else read from the input file). The stream ends
        with the batch's snapshot, its counts those the results showed."""
        batch_id = check_batch_id(snapshot.id)
        require_ended(snapshot)
        body = self._json(self._get_batch(batch_id), batch_id)
        ended = self._snapshot(body)
        if not ended.status.is_terminal:
            raise ProtocolError(f"batch {batch_id} was reported ended and is now running")
        tally = dict.fromkeys(ResultStatus, 0)
        scrub = self._transport.scrub
        yield from file_results(
            (
                self._file_batches(body[key], f"{key.split('_')[0]} file {body[key]} of {batch_id}")
                for key in ("output_file_id", "error_file_id")
                if body.get(key) not in (None, "")  # Together may send "" for none
            ),
            parse_result_line,
            batch_id,
            scrub,
            ended,
            lambda: custom_ids if custom_ids is not None else self._input_ids(body),
            tally,
        )
        yield settled_counts(snapshot, {status.value: number for status, number in tally.items()})

    def _file_batches(self, file_id: str, what: str) -> Iterator[list[bytes]]:
        """A result file's lines, a list per chunk, its stream resumed if cut."""
        url = self._transport.url(f"/v1/files/{check_file_id(file_id)}/content")
        yield from resumed_lines(self._transport, url, what=what, sleep=self._sleep)

    def _upload(self, encoded: Sequence[bytes], digest: str) -> str:
        name = input_name(digest, len(encoded))
        content, content_type = multipart_file(
            encoded,
            fields=[("purpose", PURPOSE), ("file_name", name), ("file_type", "jsonl")],
            name="file",
            filename=name,
        )
        # A resent upload can only leave a spare file, never a second batch.
        response = self._transport.request(
            "POST",
            self._transport.url("/v1/files/upload"),
            retry=Retry.IDEMPOTENT,
            content=content,
            content_type=content_type,
        )
        answer = self._json(response, "the file upload")
        file_id = answer.get("id") if isinstance(answer, dict) else None
        try:
            return check_file_id(file_id)  # type: ignore[arg-type]
        except UnsafeURLError:
            raise ProtocolError(
                f"Together answered the file upload without a usable file id: {file_id!r}"
            ) from None

    def _input(self, file_id: Any) -> tuple[str, int] | None:
        """`(digest, count)` from the name of input file `file_id`; None for a file not
        named here (a batch made elsewhere) or deleted since."""
        if not isinstance(file_id, str):
            raise ProtocolError("Together returned a batch without an input_file_id")
        with self._inputs_lock:
            if file_id in self._inputs:
                return self._inputs[file_id]
        url = self._transport.url(f"/v1/files/{check_file_id(file_id)}")
        try:
            response = self._transport.request("GET", url, retry=Retry.IDEMPOTENT)
        except ProviderError as exc:
            if exc.status_code != 404:
                raise
            response = None  # the file was deleted: the batch is still there to read
        answer = self._json(response, file_id) if response is not None else None
        found = read_input_name(answer.get("filename") if isinstance(answer, dict) else None)
        with self._inputs_lock:
            self._inputs[file_id] = found
        return found

    def _input_ids(self, body: dict[str, Any]) -> Iterator[str]:
        """The custom_ids of the batch's input file, in order."""
        file_id = check_file_id(body.get("input_file_id"))  # type: ignore[arg-type]
        url = self._transport.url(f"/v1/files/{file_id}/content")
        what = f"input file {file_id} of {body['id']}"
        for lines in resumed_lines(self._transport, url, what=what, sleep=self._sleep):
            for line in lines:
                custom_id = input_custom_id(line)
                if custom_id is None:
                    raise ProtocolError(f"the {what} has a line without a custom_id")
                yield custom_id

    def _get_batch(self, batch_id: str) -> httpx.Response:
        url = self._transport.url(f"/v1/batches/{check_batch_id(batch_id)}")
        return self._transport.request("GET", url, retry=Retry.IDEMPOTENT)

    def _created(self, answer: Any) -> BatchSnapshot:
        """The create's answer, `{"job": {...}, "warning": ...}`, as a snapshot."""
        job = answer.get("job") if isinstance(answer, dict) else None
        if not isinstance(job, dict):
            raise ProtocolError("Together answered the create without a job")
        return self._snapshot(job)

    def _snapshot(self, body: Any, *, retry_after: float | None = None) -> BatchSnapshot:
        if not isinstance(body, dict):
            raise ProtocolError("Together returned a batch that is not an object")
        return snapshot_from_body(
            body,
            input_file=self._input(body.get("input_file_id")),
            retry_after=retry_after,
            scrub=self._transport.scrub,
        )

    def _auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key.get_secret_value()}"}

    def _secrets(self) -> list[str]:
        return [self._api_key.get_secret_value()]


def _created_at(body: dict[str, Any]) -> datetime | None:
    return parse_time(body.get("created_at"), str(body.get("id")))
