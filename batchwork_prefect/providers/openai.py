"""OpenAI's Batch API (Chat Completions): wire format, status and count mapping, the calls.

A batch is a JSONL file uploaded with `purpose=batch`, then a batch made from it. Groq
serves the same API under its own base URL and key (`GroqProvider`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from batchwork_prefect._http.body import multipart_file
from batchwork_prefect._http.resume import resumed_lines
from batchwork_prefect._http.retry import parse_retry_after
from batchwork_prefect._http.transport import Retry, Transport, check_headers, resolve_api_key
from batchwork_prefect.errors import (
    ProtocolError,
    UnknownStatusError,
    UnsafeURLError,
)
from batchwork_prefect.models import (
    TYPED_FIELDS,
    BatchProblem,
    BatchRequest,
    BatchResult,
    BatchSnapshot,
    BatchStatus,
    RequestCounts,
    ResultStatus,
    trusted,
    trusted_given,
)
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers._http_provider import HttpProvider, require_ended
from batchwork_prefect.providers._openai_results import (
    input_custom_id,
    parse_result_line,
    unrun_results,
)
from batchwork_prefect.providers._schemas import openai_strict_schema
from batchwork_prefect.providers.base import BatchLimits

NAME = "openai"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
ENDPOINT = "/v1/chat/completions"
"""The endpoint every request of a batch goes to (each input line names it too)."""
COMPLETION_WINDOW = "24h"
LIMITS = BatchLimits(max_requests=50_000, max_bytes=200_000_000)
"""OpenAI's limits per batch: 50,000 requests, and an input file of 200 MB (decimal)."""

BATCH_ID_PATTERN = re.compile(r"batch_[A-Za-z0-9_-]{1,200}")
FILE_ID_PATTERN = re.compile(r"file-[A-Za-z0-9_-]{1,200}")
"""Ids as they go into a URL path; used with `fullmatch`."""

METADATA_DIGEST = "batchwork_digest"
METADATA_REQUESTS = "batchwork_requests"
"""Metadata keys a create records: the part's content digest and its request count."""

MAX_STOP = 4
"""Chat Completions takes at most 4 stop sequences."""

UNSUPPORTED = {
    "top_k": "OpenAI has no top_k; remove it (top_p is nucleus sampling)",
    "thinking": "OpenAI has no thinking option; for reasoning models pass "
    "params={'reasoning_effort': 'low' | 'medium' | 'high'}",
    "stop_sequences": "give stop sequences as the stop_sequences field (sent as 'stop'), "
    "not in params or defaults as a raw field",
    "system": "give the system prompt as the system field, not as a raw field in params",
    "container": "an Anthropic-only field; remove it",
    "mcp_servers": "an Anthropic-only field; remove it",
}
"""Fields an OpenAI request cannot carry, with the fix: refused before anything is sent."""

_ORGANIZATION = "openai-organization"
_PROJECT = "openai-project"

_STATUSES = {
    "validating": BatchStatus.VALIDATING,
    "in_progress": BatchStatus.IN_PROGRESS,
    "finalizing": BatchStatus.FINALIZING,
    "completed": BatchStatus.COMPLETED,
    "failed": BatchStatus.FAILED,
    "expired": BatchStatus.EXPIRED,
    "cancelling": BatchStatus.CANCELLING,
    "cancelled": BatchStatus.CANCELLED,
}
_ENDED_AT = {
    BatchStatus.COMPLETED: "completed_at",
    BatchStatus.FAILED: "failed_at",
    BatchStatus.EXPIRED: "expired_at",
    BatchStatus.CANCELLED: "cancelled_at",
}


def map_status(status: str, provider: str = NAME) -> BatchStatus:
    """OpenAI's batch `status` as a `BatchStatus` (the same words); unknown words raise."""
    try:
        return _STATUSES[status]
    except (KeyError, TypeError):
        raise UnknownStatusError(provider, str(status)) from None


def map_counts(
    status: BatchStatus,
    *,
    total: int,
    completed: int,
    failed: int,
    submitted: int | None = None,
) -> RequestCounts:
    """OpenAI's `request_counts` (`total`, `completed`, `failed`) in the shared shape.

    `completed` requests succeeded and `failed` ones errored. The rest did not run yet
    (processing), or never will: expired in an expired batch, canceled in a cancelled one,
    errored in a failed one (it failed before running any). In a completed batch the rest is
    left out of every status, so reading results that lack them reports it. OpenAI reports
    no requests at all while validating and after failing validation: `submitted`, the
    count the create recorded in the batch's metadata, stands in for `total` then.
    Inconsistent counts raise `ProtocolError`.
    """
    if total == 0 and submitted:
        total = submitted
    rest = total - completed - failed
    if rest < 0:
        raise ProtocolError(
            f"request counts do not add up: {completed} completed + {failed} failed > {total}"
        )
    values = {
        "total": total,
        "processing": 0,
        "succeeded": completed,
        "errored": failed,
        "canceled": 0,
        "expired": 0,
    }
    if status is BatchStatus.EXPIRED:
        values["expired"] = rest
    elif status is BatchStatus.CANCELLED:
        values["canceled"] = rest
    elif status is BatchStatus.FAILED:
        values["errored"] = failed + rest
    elif status is not BatchStatus.COMPLETED:
        values["processing"] = rest
    return trusted(RequestCounts, values)


def settle_counts(
    snapshot: BatchSnapshot, *, errored: int, expired: int, canceled: int
) -> BatchSnapshot:
    """An ended batch's snapshot, its counts settled by the outcomes its results hold.

    `map_counts` takes OpenAI's `failed` for the requests that errored. OpenAI may instead
    count there every request that did not succeed, those the batch never ran included
    (expired or cancelled requests in the error file). Its numbers cannot tell these apart,
    so when the results read hold no more errored requests than `failed`, and as many
    unsuccessful ones in all as OpenAI counted (`total - completed`), the split between
    errored, expired and canceled is taken from the results. Otherwise the snapshot is
    returned as it is, for the results to be checked against it.
    """
    counts = snapshot.request_counts
    read = {"errored": errored, "expired": expired, "canceled": canceled}
    if (
        snapshot.status is BatchStatus.FAILED
        or not snapshot.status.is_terminal
        or all(getattr(counts, name) == number for name, number in read.items())
        or errored > counts.errored
        or errored + expired + canceled != counts.total - counts.succeeded
    ):
        return snapshot
    return snapshot.model_copy(update={"request_counts": counts.model_copy(update=read)})


def check_batch_id(batch_id: str) -> str:
    """`batch_id` if it is a well-formed OpenAI batch id, safe to put in a URL path."""
    if not isinstance(batch_id, str) or not BATCH_ID_PATTERN.fullmatch(batch_id):
        raise UnsafeURLError(
            f"{batch_id!r} is not an OpenAI batch id (expected batch_ + letters/digits)"
        )
    return batch_id


def check_file_id(file_id: str) -> str:
    """`file_id` if it is a well-formed OpenAI file id, safe to put in a URL path."""
    if not isinstance(file_id, str) or not FILE_ID_PATTERN.fullmatch(file_id):
        raise UnsafeURLError(
            f"{file_id!r} is not an OpenAI file id (expected file- + letters/digits)"
        )
    return file_id


def output_fields(output: OutputType, *, strict: bool = True) -> dict[str, Any]:
    """The request fields that ask for answers of `output`: `response_format`, a strict
    JSON schema (where `strict`, the model's tokens are held to it).

    Raises `ValueError` for a schema strict mode cannot carry faithfully."""
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": output.name,
                "schema": openai_strict_schema(output.schema),
                "strict": strict,
            },
        }
    }


def request_params(
    model: str,
    request: BatchRequest,
    defaults: Mapping[str, Any],
    output: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Chat Completions body for one request.

    Precedence as for every provider: `defaults` < `params` < typed fields. Typed fields
    (in `defaults` too) map to OpenAI's names: `system` becomes a leading system message,
    `prompt` a user message (`messages` pass as given), `max_tokens` is sent as
    `max_completion_tokens`, `stop_sequences` as `stop`, Anthropic-shaped `tools` and
    `tool_choice` as their OpenAI forms. Raises `ValueError` naming the fix for what OpenAI
    cannot take (`top_k`, `stream`, a conflicting `model`, ...).
    """
    # Typed fields in defaults are mapped like the request's own, except top_k; params
    # are raw Chat Completions fields, so another API's names are refused there.
    problems = [
        f"defaults.{name}: {UNSUPPORTED[name]}"
        for name in defaults
        if name in UNSUPPORTED and (name not in TYPED_FIELDS or name == "top_k")
    ]
    problems += [
        f"params.{name}: {UNSUPPORTED[name]}" for name in request.params if name in UNSUPPORTED
    ]
    if request.top_k is not None:
        problems.append(f"top_k: {UNSUPPORTED['top_k']}")
    if problems:
        raise ValueError("; ".join(problems))
    body: dict[str, Any] = {"model": model}
    typed_defaults: dict[str, Any] = {}
    for name, value in defaults.items():
        if name in TYPED_FIELDS:
            typed_defaults[name] = value
        else:
            body[name] = value
    _map_typed(body, typed_defaults)
    body.update(request.params)
    fields, given = request.__dict__, request.model_fields_set
    typed = {
        name: fields[name] for name in TYPED_FIELDS if name in given and fields[name] is not None
    }
    _map_typed(body, typed)
    system = typed.get("system", typed_defaults.get("system"))
    if request.prompt is not None:
        messages: list[Any] = [{"role": "user", "content": request.prompt}]
    else:
        messages = list(request.messages or ())
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    body["messages"] = messages
    if body["model"] != model:
        raise ValueError(f"model {body['model']!r} conflicts with the batch model {model!r}")
    if body.get("stream"):
        raise ValueError("stream=True is not supported in batches")
    if output is not None:
        if body.get("response_format") is not None:
            raise ValueError(
                "response_format: the batch's output= sets it, and neither a request nor "
                "defaults may set their own; drop it, or send the requests of each output type "
                "as their own batch"
            )
        body["response_format"] = output["response_format"]
    return body


def _map_typed(body: dict[str, Any], typed: Mapping[str, Any]) -> None:
    """Typed fields as Chat Completions fields, in `TYPED_FIELDS` order (the digest's)."""
    for name in TYPED_FIELDS:
        if name not in typed or name in ("system", "top_k"):
            continue
        value = typed[name]
        if name == "max_tokens":
            body["max_completion_tokens"] = value
        elif name == "stop_sequences":
            if len(value) > MAX_STOP:
                raise ValueError(
                    f"stop_sequences: OpenAI takes at most {MAX_STOP} stop sequences, "
                    f"not {len(value)}"
                )
            body["stop"] = list(value)
        elif name == "tools":
            body["tools"] = [_tool(index, tool) for index, tool in enumerate(value)]
        elif name == "tool_choice":
            _tool_choice(body, value)
        else:  # temperature, top_p: the same name
            body[name] = value


_TOOL_KEYS = {"type", "name", "description", "input_schema", "strict", "cache_control"}


def _tool(index: int, tool: Any) -> dict[str, Any]:
    """An OpenAI function tool as given, or an Anthropic custom tool in OpenAI's shape."""
    if isinstance(tool, Mapping) and tool.get("type") == "function":
        return dict(tool)
    if (
        isinstance(tool, Mapping)
        and tool.get("type", "custom") == "custom"
        and "name" in tool
        and "input_schema" in tool
        and set(tool) <= _TOOL_KEYS
    ):
        function: dict[str, Any] = {"name": tool["name"]}
        if "description" in tool:
            function["description"] = tool["description"]
        function["parameters"] = tool["input_schema"]
        if "strict" in tool:
            function["strict"] = tool["strict"]
        return {"type": "function", "function": function}
    raise ValueError(
        f"tools[{index}]: OpenAI takes function tools: {{'type': 'function', 'function': "
        "{'name', 'description', 'parameters'}}, or {'name', 'description', 'input_schema'} "
        "(converted); server tools of other providers cannot be sent"
    )


def _tool_choice(body: dict[str, Any], choice: Mapping[str, Any]) -> None:
    kind = choice.get("type")
    if kind == "function":
        body["tool_choice"] = dict(choice)
        return
    if kind in ("auto", "none"):
        body["tool_choice"] = kind
    elif kind == "any":
        body["tool_choice"] = "required"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        body["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise ValueError(
            "tool_choice: expected {'type': 'auto' | 'any' | 'none'}, {'type': 'tool', "
            "'name': ...} or OpenAI's {'type': 'function', 'function': {'name': ...}}"
        )
    if choice.get("disable_parallel_tool_use"):
        body["parallel_tool_calls"] = False


def encode_request(custom_id: str, params: Mapping[str, Any]) -> bytes:
    """One line of the input file: `{"custom_id", "method", "url", "body"}`.

    Copied to its exact size, as Anthropic's entries are (orjson's buffer is larger).
    """
    line = {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": params}
    return bytes(memoryview(orjson.dumps(line)))


def _same(text: str) -> str:
    return text


def snapshot_from_body(
    body: Any,
    *,
    provider: str = NAME,
    retry_after: float | None = None,
    scrub: Callable[[str], str] = _same,
) -> BatchSnapshot:
    """A `Batch` object as a `BatchSnapshot`; a malformed object raises `ProtocolError`.

    The digest and request count the create recorded in `metadata` are read back (a batch
    made elsewhere has neither); a failed batch's `errors` become `errors`, their text
    through `scrub`.
    """
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise ProtocolError(f"{provider} returned a batch object without an id")
    batch_id = body["id"]
    status = map_status(body.get("status"), provider)  # type: ignore[arg-type]
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    digest = metadata.get(METADATA_DIGEST)
    submitted = metadata.get(METADATA_REQUESTS)
    raw_counts = body.get("request_counts")
    if raw_counts is None:
        raw_counts = {"total": 0, "completed": 0, "failed": 0}
    if not isinstance(raw_counts, dict):
        raise ProtocolError(f"{provider} batch {batch_id} has no readable request_counts")
    numbers = {name: _count(raw_counts.get(name), name, batch_id) for name in _COUNT_NAMES}
    try:
        counts = map_counts(
            status,
            **numbers,
            submitted=int(submitted)
            if isinstance(submitted, str) and submitted.isdigit()
            else None,
        )
    except ProtocolError as exc:
        raise ProtocolError(f"{provider} batch {batch_id}: {exc}") from None
    cancelling_at = _timestamp(body.get("cancelling_at"))
    ended = _ENDED_AT.get(status)
    return trusted_given(
        BatchSnapshot,
        {
            "id": batch_id,
            "provider": provider,
            "status": status,
            "request_counts": counts,
            "provider_status": body["status"],
            "created_at": _timestamp(body.get("created_at")),
            "ended_at": _timestamp(body.get(ended)) if ended else None,
            "expires_at": _timestamp(body.get("expires_at")),
            "cancel_initiated_at": cancelling_at,
            "results_url": None,
            "retry_after": None if retry_after is None else float(retry_after),
            "digest": digest if isinstance(digest, str) else None,
            "errors": _problems(body.get("errors"), batch_id, scrub),
        },
    )


_COUNT_NAMES = ("total", "completed", "failed")


def _count(value: Any, name: str, batch_id: str) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"batch {batch_id} has a bad request_counts.{name}: {value!r}")
    return value


def _problems(raw: Any, batch_id: str, scrub: Callable[[str], str]) -> tuple[BatchProblem, ...]:
    """A batch's `errors` (`{"data": [{code, message, line, param}]}` or null)."""
    if raw is None:
        return ()
    data = raw.get("data") if isinstance(raw, dict) else None
    if data is None and isinstance(raw, dict):
        return ()
    if not isinstance(data, list):
        raise ProtocolError(f"batch {batch_id} has unreadable errors")
    problems = []
    for item in data:
        if not isinstance(item, dict):
            raise ProtocolError(f"batch {batch_id} has an unreadable error entry")
        code, message = item.get("code"), item.get("message")
        line, param = item.get("line"), item.get("param")
        if (
            not isinstance(code, (str, type(None)))
            or not isinstance(message, (str, type(None)))
            or not isinstance(param, (str, type(None)))
            or not (line is None or (isinstance(line, int) and not isinstance(line, bool)))
        ):
            raise ProtocolError(f"batch {batch_id} has an unreadable error entry")
        problems.append(
            trusted(
                BatchProblem,
                {
                    "code": scrub(code or "error"),
                    "message": scrub(message or ""),
                    "line": line,
                    "param": param,
                },
            )
        )
    return tuple(problems)


def _timestamp(value: Any) -> datetime | None:
    """Unix seconds as an aware datetime; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ProtocolError(f"unreadable timestamp {value!r}")
    return datetime.fromtimestamp(value, UTC)


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
        fills = ended.status in _UNRUN_STATUSES
        seen: set[str] = set()
        tally = dict.fromkeys(ResultStatus, 0)
        scrub = self._transport.scrub
        for key in ("output_file_id", "error_file_id"):
            file_id = body.get(key)
            if file_id is None:
                continue
            url = self._transport.url(f"/files/{check_file_id(file_id)}/content")
            what = f"{key.split('_')[0]} file {file_id} of {batch_id}"
            for lines in resumed_lines(self._transport, url, what=what, sleep=self._sleep):
                for line in lines:
                    item = parse_result_line(line, batch_id, scrub)
                    if item is None:
                        yield line
                        continue
                    if fills:
                        seen.add(item.custom_id)
                    tally[item.status] += 1
                    yield item
        if fills:
            submitted = custom_ids if custom_ids is not None else self._input_ids(body)
            for item in unrun_results(ended.status, submitted, seen, batch_id, ended.errors):
                tally[item.status] += 1
                yield item
        settled = settle_counts(
            snapshot,
            errored=tally[ResultStatus.ERRORED],
            expired=tally[ResultStatus.EXPIRED],
            canceled=tally[ResultStatus.CANCELED],
        )
        if settled is not snapshot:
            yield settled

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


_UNRUN_STATUSES = frozenset({BatchStatus.EXPIRED, BatchStatus.CANCELLED, BatchStatus.FAILED})

GROQ_BASE_URL = "https://api.groq.com/openai/v1"


GROQ_STRICT_MODELS = ("openai/gpt-oss-",)
"""Groq models whose structured output is strict (constrained decoding), by name prefix,
as Groq's structured-outputs page lists them; the others take it in best-effort mode."""


class GroqFormat(OpenAIFormat):
    """Groq's batches: OpenAI's wire format under another name."""

    name = "groq"

    def output_fields(self, output: OutputType, model: str = "") -> dict[str, Any]:
        """`response_format` for `output`: strict where Groq's model has strict mode."""
        return output_fields(output, strict=model.startswith(GROQ_STRICT_MODELS))


class GroqProvider(OpenAIProvider):
    """Groq's OpenAI-compatible Batch API: `GROQ_API_KEY`, `GROQ_BASE_URL` (default
    https://api.groq.com/openai/v1), no organization or project headers."""

    name = "groq"
    label = "Groq"
    api_key_env = "GROQ_API_KEY"
    base_url_env = "GROQ_BASE_URL"
    default_base_url = GROQ_BASE_URL
    organization_env = None
    project_env = None


def _env(name: str | None) -> str | None:
    return os.environ.get(name) if name else None
