"""Anthropic's wire format: requests built and encoded, batch ids checked, batch objects read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from batchwork_prefect.errors import (
    ProtocolError,
    UnknownStatusError,
    UnsafeURLError,
)
from batchwork_prefect.models import (
    TYPED_FIELDS,
    BatchRequest,
    BatchSnapshot,
    BatchStatus,
    RequestCounts,
    trusted,
    trusted_given,
)
from batchwork_prefect.outputs import OutputType
from batchwork_prefect.providers._schemas import anthropic_schema
from batchwork_prefect.providers.base import BatchLimits
from batchwork_prefect.registry import PROVIDERS

NAME = "anthropic"
DEFAULT_BASE_URL = PROVIDERS[NAME].default_base_url
API_VERSION = "2023-06-01"
BATCHES_PATH = "/v1/messages/batches"
LIMITS = BatchLimits(max_requests=100_000, max_bytes=256_000_000)
"""Anthropic's limits per batch: 100,000 requests or 256 MB (decimal, for headroom)."""

BATCH_ID_PATTERN = re.compile(r"msgbatch_[A-Za-z0-9_-]{1,200}")
"""A batch id; used with `fullmatch` (`$` would let a trailing newline into the URL path)."""
DEFAULT_MAX_TOKENS = 1024


def map_status(
    processing_status: str, counts: RequestCounts, *, cancel_initiated: bool
) -> BatchStatus:
    """Anthropic's `processing_status` as a `BatchStatus`; unknown words raise.

    `ended` becomes `cancelled` when a cancel was initiated, `expired` when every request
    expired, and `completed` otherwise.
    """
    if processing_status == "in_progress":
        return BatchStatus.IN_PROGRESS
    if processing_status == "canceling":
        return BatchStatus.CANCELLING
    if processing_status == "ended":
        if cancel_initiated:
            return BatchStatus.CANCELLED
        if counts.total > 0 and counts.expired == counts.total:
            return BatchStatus.EXPIRED
        return BatchStatus.COMPLETED
    raise UnknownStatusError(NAME, processing_status)


def check_batch_id(batch_id: str) -> str:
    """`batch_id` if it is a well-formed Anthropic batch id, safe to put in a URL path."""
    if not isinstance(batch_id, str) or not BATCH_ID_PATTERN.fullmatch(batch_id):
        raise UnsafeURLError(
            f"{batch_id!r} is not an Anthropic batch id (expected msgbatch_ + letters/digits)"
        )
    return batch_id


def output_fields(output: OutputType, model: str = "") -> dict[str, Any]:
    """The request fields that ask `model` for answers of `output`: `output_config.format`.

    Raises `ValueError` for a schema Anthropic cannot carry faithfully."""
    schema = anthropic_schema(output.schema)
    return {"output_config": {"format": {"type": "json_schema", "schema": schema}}}


def request_params(
    model: str,
    request: BatchRequest,
    defaults: Mapping[str, Any],
    output: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Messages API body for one request: defaults, then `params`, then typed fields,
    then `output` (a typed batch's `output_fields`, merged into any `output_config`).

    Raises `ValueError` for what a batch cannot carry (`stream`, a conflicting `model`, an
    `output_config.format` of its own in a typed batch).
    """
    params: dict[str, Any] = {"model": model, **defaults, **request.params}
    fields, given = request.__dict__, request.model_fields_set
    for field in TYPED_FIELDS:  # a fixed order: the encoded bytes feed the content digest
        if field in given and fields[field] is not None:
            params[field] = fields[field]
    if request.prompt is not None:
        params["messages"] = [{"role": "user", "content": request.prompt}]
    else:
        params["messages"] = request.messages
    params.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    if params["model"] != model:
        raise ValueError(f"model {params['model']!r} conflicts with the batch model {model!r}")
    if params.get("stream"):
        raise ValueError("stream=True is not supported in message batches")
    if output is not None:
        config = params.get("output_config")
        if config is not None and not isinstance(config, Mapping):
            raise ValueError("output_config: expected an object")
        if config and config.get("format") is not None:
            raise ValueError(
                "output_config.format: the batch's output= sets it, and neither a request nor "
                "defaults may set their own; drop it, or send the requests of each output type "
                "as their own batch"
            )
        params["output_config"] = {**(config or {}), **output["output_config"]}
    return params


def encode_request(custom_id: str, params: Mapping[str, Any]) -> bytes:
    """One `{"custom_id", "params"}` entry of a create body.

    Copied to its exact size: orjson's output keeps the capacity of its working buffer
    (4 KiB and up), which for 100,000 kept requests is hundreds of megabytes.
    """
    return bytes(memoryview(orjson.dumps({"custom_id": custom_id, "params": params})))


def snapshot_from_body(body: Any, *, retry_after: float | None = None) -> BatchSnapshot:
    """A `MessageBatch` object as a `BatchSnapshot`; a malformed object raises `ProtocolError`."""
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise ProtocolError("Anthropic returned a batch object without an id")
    status = body.get("processing_status")
    raw_counts = body.get("request_counts")
    if not isinstance(status, str) or not isinstance(raw_counts, dict):
        raise ProtocolError(f"Anthropic batch {body['id']} lacks processing_status/request_counts")
    counts = _counts(raw_counts, body["id"])
    results_url = body.get("results_url")
    # Every value is checked here, so no pydantic validator is built for it (a one-shot
    # script would pay for building it, and for loading pydantic's plugins, at first use).
    return trusted_given(
        BatchSnapshot,
        {
            "id": body["id"],
            "provider": NAME,
            "status": map_status(
                status, counts, cancel_initiated=bool(body.get("cancel_initiated_at"))
            ),
            "request_counts": counts,
            "provider_status": status,
            "created_at": _timestamp(body.get("created_at")),
            "ended_at": _timestamp(body.get("ended_at")),
            "expires_at": _timestamp(body.get("expires_at")),
            "cancel_initiated_at": _timestamp(body.get("cancel_initiated_at")),
            "results_url": results_url if isinstance(results_url, str) else None,
            "retry_after": None if retry_after is None else float(retry_after),
        },
    )


def _counts(raw: dict[str, Any], batch_id: str) -> RequestCounts:
    values = {}
    for name in ("processing", "succeeded", "errored", "canceled", "expired"):
        value = raw.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ProtocolError(f"Anthropic batch {batch_id} has a bad request_counts.{name}")
        values[name] = value
    values["total"] = sum(values.values())
    return trusted(RequestCounts, values)


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ProtocolError(f"Anthropic sent an unreadable timestamp {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class AnthropicFormat:
    """Anthropic's wire format: building and encoding requests, no network."""

    name = NAME
    output_fields = staticmethod(output_fields)
    request_params = staticmethod(request_params)
    encode_request = staticmethod(encode_request)
    check_batch_id = staticmethod(check_batch_id)

    def __init__(self, limits: BatchLimits = LIMITS) -> None:
        self.limits = limits
