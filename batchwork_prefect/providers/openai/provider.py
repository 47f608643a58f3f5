"""OpenAI's Batch API over the shared transport: a JSONL file uploaded, then a batch of it."""

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
from batchwork_prefect.errors import (
    ProtocolError,
    UnsafeURLError,
)
from batchwork_prefect.models import (
    BatchResult,
    BatchSnapshot,
    ResultStatus,
)
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers._files import file_results
from batchwork_prefect.providers._http_provider import HttpProvider, require_ended
from batchwork_prefect.providers.base import BatchLimits
from batchwork_prefect.providers.openai.batches import (
    COMPLETION_WINDOW,
    DEFAULT_BASE_URL,
    ENDPOINT,
    LIMITS,
    METADATA_DIGEST,
    METADATA_REQUESTS,
    NAME,
    check_batch_id,
    check_file_id,
    settle_counts,
    snapshot_from_body,
)
from batchwork_prefect.providers.openai.requests import (
    encode_request,
    output_fields,
    request_params,
)
from batchwork_prefect.providers.openai.results import input_custom_id, parse_result_line

_ORGANIZATION = "openai-organization"
_PROJECT = "openai-project"


class OpenAIFormat:
    """OpenAI's wire format: building and encoding requests, no network."""

    name = NAME
    request_params = staticmethod(request_params)

    def output_fields(self, output: OutputType, model: str = "") -> dict[str, Any]:
        """`response_format` for `output`, strict (see `output_fields`)."""
        return output_fields(output)

    encode_request = staticmethod(encode_request)
    check_batch_id = staticmethod(check_batch_id)

    def __init__(self, limits: BatchLimits = LIMITS) -> None:
        self.limits = limits


class OpenAIProvider(HttpProvider, OpenAIFormat):
    """OpenAI's Batch API over the shared transport: `Authorization: Bearer` to its origin only.

    Credentials as the openai SDK takes them: `api_key` or `OPENAI_API_KEY`, `base_url`
    (with `/v1`) or `OPENAI_BASE_URL`, `organization` or `OPENAI_ORG_ID`, `project` or
    `OPENAI_PROJECT_ID` (sent as `OpenAI-Organization` / `OpenAI-Project`; `""` sends
    none and reads no environment variable).
    """

    records_digest = True  # the create records it in the batch's metadata
    label = "OpenAI"
    api_key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    organization_env: str | None = "OPENAI_ORG_ID"
    project_env: str | None = "OPENAI_PROJECT_ID"

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
        organization: str | None = None,
        project: str | None = None,
    ) -> None:
        self._api_key = resolve_api_key(api_key, self.api_key_env, self.label)
        super().__init__(limits)
        fixed: dict[str, str] = {}
        # None: the environment's, as the openai SDK does; "" sends none.
        organization = _env(self.organization_env) if organization is None else organization
        project = _env(self.project_env) if project is None else project
        if organization:
            fixed[_ORGANIZATION] = organization
        if project:
            fixed[_PROJECT] = project
        self._account = "".join(f" {name[7:]} {value}" for name, value in fixed.items())
        reserved = {
            "authorization": f"pass the key as api_key=... (or set {self.api_key_env})",
        }
        self._sleep = sleep
        self._transport = Transport(
            provider=self.name,
            base_url=base_url or os.environ.get(self.base_url_env) or self.default_base_url,
            auth_headers=self._auth_headers,
            headers={**fixed, **check_headers(headers, reserved=reserved)},
            timeout=timeout,
            max_retries=max_retries,
            client=client,
            sleep=sleep,
            secrets=self._secrets,
        )

    @property
    def endpoint(self) -> str:
        """The base URL, and the organization and project that the batches belong to."""
        return self.base_url.rstrip("/") + self._account

    def create(self, encoded: Sequence[bytes], *, digest: str) -> BatchSnapshot:
        """Upload the requests as a file and make a batch of it.

        The digest and request count go into the batch's metadata, so a create whose
        answer is lost (`SubmissionOutcomeUnknown`, never a resend) is found by its digest.
        A failed upload made no batch and raises as it is.
        """
        file_id = self._upload(encoded, digest)
        payload = orjson.dumps(
            {
                "input_file_id": file_id,
                "endpoint": ENDPOINT,
                "completion_window": COMPLETION_WINDOW,
                "metadata": {METADATA_DIGEST: digest, METADATA_REQUESTS: str(len(encoded))},
            }
        )
        return self._post_create(
            "/batches",
            payload,
            request_count=len(encoded),
            digest=digest,
            snapshot=self._snapshot,
        )

    def retrieve(self, batch_id: str) -> BatchSnapshot:
        """GET the batch."""
        response = self._get_batch(batch_id)
        return self._snapshot(
            self._json(response, batch_id), retry_after=parse_retry_after(response.headers)
        )

    def cancel(self, batch_id: str) -> BatchSnapshot:
        """POST a cancel for the batch."""
        url = self._transport.url(f"/batches/{check_batch_id(batch_id)}/cancel")
        response = self._transport.request("POST", url, retry=Retry.IDEMPOTENT)
        return self._snapshot(self._json(response, batch_id))

    def list_batches(self, *, created_after: datetime | None = None) -> Iterator[BatchSnapshot]:
        """Every batch of the organization, newest first, down to `created_after`.

        OpenAI keeps creation times in whole seconds, so `created_after` is rounded down to
        its second: a batch made later in that second is still listed.
        """
        floor = created_after.replace(microsecond=0) if created_after is not None else None
        return self._pages("/batches", cursor="after", created_after=floor, snapshot=self._snapshot)

    def results(
        self, snapshot: BatchSnapshot, *, custom_ids: Sequence[str] | None = None
    ) -> Iterator[BatchResult | bytes | BatchSnapshot]:
        """The results of an ended batch: its output file, then its error file, streamed.

        Each file's stream, if cut, is read again and resumed. Raw bytes are yielded for a
        line that does not parse. Then, in an expired, cancelled or failed batch, every
        submitted request neither file holds gets its result (`unrun_results`); the
        submitted ids are `custom_ids` when given, else read from the batch's input file.
        The stream ends with the batch's snapshot where reading settled its counts
        (`settle_counts`).
        """
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
                if body.get(key) is not None
            ),
            parse_result_line,
            batch_id,
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

    def _file_batches(self, file_id: str, what: str) -> Iterator[list[bytes]]:
        """A result file's lines, a list per chunk, its stream resumed if cut."""
        url = self._transport.url(f"/files/{check_file_id(file_id)}/content")
        yield from resumed_lines(self._transport, url, what=what, sleep=self._sleep)

    def _upload(self, encoded: Sequence[bytes], digest: str) -> str:
        content, content_type = multipart_file(
            encoded,
            fields=[("purpose", "batch")],
            name="file",
            filename=f"batchwork-{digest[:16]}.jsonl",
        )
        # A resent upload can only leave a spare file (they expire), never a second batch.
        response = self._transport.request(
            "POST",
            self._transport.url("/files"),
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
                f"{self.name} answered the file upload without a usable file id: {file_id!r}"
            ) from None

    def _input_ids(self, body: dict[str, Any]) -> Iterator[str]:
        """The custom_ids of the batch's input file, in order."""
        file_id = check_file_id(body.get("input_file_id"))  # type: ignore[arg-type]
        url = self._transport.url(f"/files/{file_id}/content")
        what = f"input file {file_id} of {body['id']}"
        for lines in resumed_lines(self._transport, url, what=what, sleep=self._sleep):
            for line in lines:
                custom_id = input_custom_id(line)
                if custom_id is None:
                    raise ProtocolError(f"the {what} has a line without a custom_id")
                yield custom_id

    def _get_batch(self, batch_id: str) -> httpx.Response:
        url = self._transport.url(f"/batches/{check_batch_id(batch_id)}")
        return self._transport.request("GET", url, retry=Retry.IDEMPOTENT)

    def _snapshot(self, body: Any, *, retry_after: float | None = None) -> BatchSnapshot:
        return snapshot_from_body(
            body, provider=self.name, retry_after=retry_after, scrub=self._transport.scrub
        )

    def _auth_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._api_key.get_secret_value()}"}

    def _secrets(self) -> list[str]:
        return [self._api_key.get_secret_value()]


def _env(name: str | None) -> str | None:
    return os.environ.get(name) if name else None
