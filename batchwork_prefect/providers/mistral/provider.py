"""Mistral's Batch API over the shared transport: a JSONL file uploaded, then a job of it."""

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
from batchwork_prefect._http.body import multipart_file
from batchwork_prefect._http.resume import resumed_lines
from batchwork_prefect._http.retry import parse_retry_after
from batchwork_prefect._http.transport import Retry, Transport
from batchwork_prefect.errors import InvalidBatchError, ProtocolError, UnsafeURLError
from batchwork_prefect.models import BatchResult, BatchSnapshot, ResultStatus
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers._files import file_results
from batchwork_prefect.providers._http_provider import HttpProvider, require_ended
from batchwork_prefect.providers.base import BatchLimits
from batchwork_prefect.providers.mistral.batches import (
    DEFAULT_BASE_URL,
    ENDPOINT,
    LIMITS,
    METADATA_DIGEST,
    METADATA_REQUESTS,
    NAME,
    TIMEOUT_HOURS,
    check_batch_id,
    check_file_id,
    snapshot_from_body,
)
from batchwork_prefect.providers.mistral.requests import (
    encode_request,
    output_fields,
    request_params,
)
from batchwork_prefect.providers.mistral.results import input_custom_id, parse_result_line
from batchwork_prefect.providers.openai.batches import settle_counts
from batchwork_prefect.registry import PROVIDERS

JOBS_PATH = "/v1/batch/jobs"
FILES_PATH = "/v1/files"
PAGE_SIZE = 100


class MistralFormat:
    """Mistral's wire format: building and encoding requests, no network."""

    name = NAME
    request_params = staticmethod(request_params)
    encode_request = staticmethod(encode_request)
    check_batch_id = staticmethod(check_batch_id)

    def output_fields(self, output: OutputType, model: str = "") -> dict[str, Any]:
        """`response_format` for `output`, strict (see `output_fields`)."""
        return output_fields(output)

    def __init__(self, limits: BatchLimits = LIMITS) -> None:
        self.limits = limits


class MistralProvider(HttpProvider, MistralFormat):
    """Mistral's Batch API over the shared transport: `Authorization: Bearer` to its origin
    only. Credentials as the mistralai SDK takes them: `api_key` or `MISTRAL_API_KEY`;
    `base_url` (without `/v1`) or `MISTRAL_BASE_URL`, default https://api.mistral.ai."""

    records_digest = True  # the create records it in the job's metadata
    label = "Mistral"
    api_key_env = PROVIDERS["mistral"].api_key_env[0]
    base_url_env = PROVIDERS["mistral"].base_url_env or "MISTRAL_BASE_URL"

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
        self._api_key = resolve_api_key(api_key, self.api_key_env, self.label)
        super().__init__(limits)
        reserved = {"authorization": f"pass the key as api_key=... (or set {self.api_key_env})"}
        self._sleep = sleep
        self._transport = Transport(
            provider=NAME,
            base_url=base_url or os.environ.get(self.base_url_env) or DEFAULT_BASE_URL,
            auth_headers=self._auth_headers,
            headers=check_headers(headers, reserved=reserved),
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            sleep=sleep,
            secrets=self._secrets,
        )

    def create(self, encoded: Sequence[bytes], *, digest: str) -> BatchSnapshot:
        """Upload the requests as a file (`purpose=batch`) and make a job of it.

        The job names the model (read from the first request's body), the endpoint, a
        `timeout_hours` of 24 and, in its metadata, the digest and request count, so a create
        whose answer is lost (`SubmissionOutcomeUnknown`, never a resend) is found by its
        digest. A failed upload made no job and raises as it is.
        """
        model = _model_of(encoded)
        file_id = self._upload(encoded, digest)
        payload = orjson.dumps(
            {
                "input_files": [file_id],
                "endpoint": ENDPOINT,
                "model": model,
                "metadata": {METADATA_DIGEST: digest, METADATA_REQUESTS: str(len(encoded))},
                "timeout_hours": TIMEOUT_HOURS,
            }
        )
        return self._post_create(
            JOBS_PATH, payload, request_count=len(encoded), digest=digest, snapshot=self._snapshot
        )

    def retrieve(self, batch_id: str) -> BatchSnapshot:
        """GET the job."""
        response = self._get_job(batch_id)
        return self._snapshot(
            self._json(response, batch_id), retry_after=parse_retry_after(response.headers)
        )

    def cancel(self, batch_id: str) -> BatchSnapshot:
        """POST a cancel for the job (it becomes CANCELLATION_REQUESTED, then CANCELLED)."""
        url = self._transport.url(f"{JOBS_PATH}/{check_batch_id(batch_id)}/cancel")
        response = self._transport.request("POST", url, retry=Retry.IDEMPOTENT)
        return self._snapshot(self._json(response, batch_id))

    def list_batches(self, *, created_after: datetime | None = None) -> Iterator[BatchSnapshot]:
        """Every job of the workspace, newest first (`order_by=-created`), down to
        `created_after` (rounded down to its second, as Mistral keeps whole seconds).

        Mistral pages by number: a job made while paging shifts the pages, so a job seen
        on one page and again on the next is given once.
        """
        floor = created_after.replace(microsecond=0) if created_after is not None else None
        seen: set[str] = set()
        page = 0
        while True:
            params: dict[str, str | int] = {
                "page": page,
                "page_size": PAGE_SIZE,
                "order_by": "-created",
            }
            response = self._transport.request(
                "GET", self._transport.url(JOBS_PATH), retry=Retry.IDEMPOTENT, params=params
            )
            body = self._json(response, "list")
            data = body.get("data", []) if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise ProtocolError("Mistral batch job list lacks 'data'")
            for item in data:
                job = self._snapshot(item)
                if floor and job.created_at and job.created_at < floor:
                    return
                if job.id not in seen:
                    seen.add(job.id)
                    yield job
            total = body.get("total")
            seen_all = isinstance(total, int) and (page + 1) * PAGE_SIZE >= total
            if len(data) < PAGE_SIZE or seen_all:
                return
            page += 1

    def results(
        self, snapshot: BatchSnapshot, *, custom_ids: Sequence[str] | None = None
    ) -> Iterator[BatchResult | bytes | BatchSnapshot]:
        """The results of an ended job: its output file, then its error file, streamed.

        Each file's stream, if cut, is read again and resumed; raw bytes are yielded for a
        line that does not parse. Then, in a job that timed out, was cancelled or failed,
        every submitted request neither file holds gets its result (expired, canceled or
        errored); the submitted ids are `custom_ids` when given, else read from the job's
        input files. The stream ends with the job's snapshot where reading settled its
        counts (as OpenAI's: Mistral's `failed_requests` may count requests never run).
        """
        job_id = check_batch_id(snapshot.id)
        require_ended(snapshot)
        body = self._json(self._get_job(job_id), job_id)
        ended = self._snapshot(body)
        if not ended.status.is_terminal:
            raise ProtocolError(f"batch {job_id} was reported ended and is now running")
        tally = dict.fromkeys(ResultStatus, 0)
        scrub = self._transport.scrub
        yield from file_results(
            (
                self._file_batches(body[key], f"{key.replace('_', ' ')} {body[key]} of {job_id}")
                for key in ("output_file", "error_file")
                if body.get(key) is not None
            ),
            parse_result_line,
            job_id,
            scrub,
            ended,
            lambda: custom_ids if custom_ids is not None else self._input_ids(body),
            tally,
        )
        settled = settle_counts(
            snapshot,
            errored=tally[ResultStatus.ERRORED],
            expired=tally[ResultStatus.EXPIRED],
            canceled=tally[ResultStatus.CANCELED],
        )
        if settled is not snapshot:
            yield settled

    def _file_lines(self, file_id: Any, what: str) -> Iterator[bytes]:
        for lines in self._file_batches(file_id, what):
            yield from lines

    def _file_batches(self, file_id: Any, what: str) -> Iterator[list[bytes]]:
        """A file's lines, a list per chunk, its stream resumed if cut."""
        try:
            checked = check_file_id(file_id)
        except UnsafeURLError:
            raise ProtocolError(f"Mistral named an unusable file id for the {what}") from None
        url = self._transport.url(f"{FILES_PATH}/{checked}/content")
        yield from resumed_lines(self._transport, url, what=what, sleep=self._sleep)

    def _upload(self, encoded: Sequence[bytes], digest: str) -> str:
        content, content_type = multipart_file(
            encoded,
            fields=[("purpose", "batch")],
            name="file",
            filename=f"batchwork-{digest[:16]}.jsonl",
        )
        # A resent upload can only leave a spare file, never a second job.
        response = self._transport.request(
            "POST",
            self._transport.url(FILES_PATH),
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
                f"Mistral answered the file upload without a usable file id: {file_id!r}"
            ) from None

    def _input_ids(self, body: dict[str, Any]) -> Iterator[str]:
        """The custom_ids of the job's input files, in order."""
        files = body.get("input_files")
        if not isinstance(files, list):
            raise ProtocolError(f"batch {body['id']} names no input_files")
        for file_id in files:
            what = f"input file {file_id} of {body['id']}"
            for line in self._file_lines(file_id, what):
                custom_id = input_custom_id(line)
                if custom_id is None:
                    raise ProtocolError(f"the {what} has a line without a custom_id")
                yield custom_id

    def _get_job(self, batch_id: str) -> httpx.Response:
        url = self._transport.url(f"{JOBS_PATH}/{check_batch_id(batch_id)}")
        return self._transport.request("GET", url, retry=Retry.IDEMPOTENT)

    def _snapshot(self, body: Any, *, retry_after: float | None = None) -> BatchSnapshot:
        return snapshot_from_body(
            body, provider=self.name, retry_after=retry_after, scrub=self._transport.scrub
        )

    def _auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key.get_secret_value()}"}

    def _secrets(self) -> list[str]:
        return [self._api_key.get_secret_value()]


def _model_of(encoded: Sequence[bytes]) -> str:
    """The model the job names: the first request's `body.model` (`request_params` puts the
    batch model in every body)."""
    try:
        model = orjson.loads(encoded[0])["body"]["model"] if encoded else None
    except (orjson.JSONDecodeError, KeyError, TypeError):
        model = None
    if not isinstance(model, str) or not model:
        raise InvalidBatchError("a Mistral batch needs requests whose body names the model")
    return model
