"""Building a batch: validate the requests, encode them, and split them by the limits."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic

from batchwork_prefect.core.chunking import plan_chunks
from batchwork_prefect.errors import InvalidBatchError
from batchwork_prefect.models import CUSTOM_ID_PATTERN, BatchRequest, trusted
from batchwork_prefect.providers._body import Body
from batchwork_prefect.providers.base import BatchLimits, WireFormat

RequestLike = BatchRequest | Mapping[str, Any]


@dataclass(frozen=True)
class Chunk:
    """The requests of one provider batch, encoded, with their content digest."""

    custom_ids: tuple[str, ...]
    encoded: tuple[bytes, ...]
    digest: str


@dataclass(frozen=True)
class BuiltBatch:
    """A validated batch, ready to submit as one or more provider batches."""

    provider: str
    model: str
    chunks: tuple[Chunk, ...]
    digest: str

    @property
    def request_count(self) -> int:
        """How many requests the batch holds."""
        return sum(len(chunk.custom_ids) for chunk in self.chunks)


def build_batch(
    provider: WireFormat,
    model: str,
    requests: Iterable[RequestLike],
    defaults: Mapping[str, Any] | None = None,
    *,
    limits: BatchLimits | None = None,
) -> BuiltBatch:
    """Validate and encode `requests` for `provider`, split by `limits` (default: provider's).

    Every problem is collected and raised together as one `InvalidBatchError`; nothing is
    sent.
    """
    limits = limits or provider.limits
    defaults = dict(defaults or {})
    problems: list[str] = []
    custom_ids: list[str] = []
    encoded: list[bytes] = []
    seen: dict[str, int] = {}
    for index, request in _normalized(requests, problems):
        custom_id = request.custom_id or f"request-{index}"
        if custom_id in seen:
            problems.append(
                f"requests[{index}]: duplicate custom_id {custom_id!r} "
                f"(first used by requests[{seen[custom_id]}])"
            )
            continue
        seen[custom_id] = index
        try:
            params = provider.request_params(model, request, defaults)
        except ValueError as exc:
            problems.append(f"requests[{index}] ({custom_id}): {exc}")
            continue
        custom_ids.append(custom_id)
        encoded.append(provider.encode_request(custom_id, params))
    if problems:
        raise InvalidBatchError(problems)
    if not encoded:
        raise InvalidBatchError(["a batch needs at least one request"])
    ranges = plan_chunks(
        [len(entry) for entry in encoded],
        max_requests=limits.max_requests,
        max_bytes=limits.max_bytes,
    )
    chunks = tuple(
        Chunk(
            custom_ids=tuple(custom_ids[span.start : span.stop]),
            encoded=tuple(encoded[span.start : span.stop]),
            digest=content_digest(provider.name, model, encoded[span.start : span.stop]),
        )
        for span in ranges
    )
    whole = chunks[0].digest if len(chunks) == 1 else content_digest(provider.name, model, encoded)
    return BuiltBatch(provider=provider.name, model=model, chunks=chunks, digest=whole)


def content_digest(provider: str, model: str, encoded: Sequence[bytes]) -> str:
    """A sha256 hex digest of what would be sent: provider, model and each encoded request.

    Encoded requests are JSON documents, which never contain a raw newline, so joining them
    with newlines is unambiguous.
    """
    digest = hashlib.sha256(f"{provider}\n{model}\n".encode())
    for piece in Body(encoded, separator=b"\n"):  # in slices: never a second copy of all
        digest.update(piece)
    return digest.hexdigest()


def _normalized(
    requests: Iterable[RequestLike], problems: list[str]
) -> Iterator[tuple[int, BatchRequest]]:
    """Each valid request as a `BatchRequest`, one at a time; problems go to `problems`."""
    if isinstance(requests, (str, bytes, Mapping)):
        raise InvalidBatchError(["requests must be a list of requests"])
    for index, request in enumerate(requests):
        if isinstance(request, BatchRequest):
            yield index, request
            continue
        quick = _plain_request(request)
        if quick is not None:
            yield index, quick
            continue
        try:
            yield index, BatchRequest.model_validate(request)
        except pydantic.ValidationError as exc:
            problems.extend(f"requests[{index}]: {_describe(error)}" for error in exc.errors())


_PLAIN_FIELDS: dict[str, type] = {"custom_id": str, "prompt": str, "system": str, "max_tokens": int}
_UNSET = {name: None for name in BatchRequest.model_fields if name != "params"}


def _plain_request(request: object) -> BatchRequest | None:
    """A `{"custom_id", "prompt"[, "system", "max_tokens"]}` dict checked by hand.

    Pydantic's validation costs about 5 µs a request; this is the common shape, checked in a
    fraction of that. Anything else, or anything invalid, returns None and goes through
    pydantic, which describes the problem. The result equals `BatchRequest(**request)`.
    """
    if type(request) is not dict or "prompt" not in request:
        return None
    for name, value in request.items():
        if type(value) is not _PLAIN_FIELDS.get(name):
            return None
    custom_id = request.get("custom_id")
    if custom_id is not None and not CUSTOM_ID_PATTERN.fullmatch(custom_id):
        return None
    if request.get("max_tokens", 1) < 1:
        return None
    return trusted(BatchRequest, {**_UNSET, **request, "params": {}}, set(request))


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    return f"{location}: {message}" if location else message
