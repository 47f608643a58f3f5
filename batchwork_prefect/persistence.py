"""Where and how a batch's records are persisted: readable JSON, never pickle.

Layout inside the result storage (a Prefect storage block; default: the local Prefect
storage path, `$PREFECT_HOME/storage`). A batch has one part per provider batch (several
when it exceeds the provider's limits), each with its own records:

    batchwork/<scope>/<digest>/part-<n>-<part digest>/intent.json   written before the create
                                    and updated after it: {state, batch_id, attempted_at, ...}
    batchwork/<scope>/<digest>/part-<n>-<part digest>/submit.json   the part's BatchHandle
    batchwork/<scope>/<digest>/part-<n>-<part digest>/results.json  the part's BatchResults
    batchwork/<scope>/<digest>/part-<n>-<part digest>/results.partial.json   only when the
                                    results failed their integrity checks: the results that
                                    parsed, the problems, the unreadable lines (base64)
    batchwork/<scope>/latest.json   {"digest", "batch_ids", "results": [keys]} of the last read

`<scope>` is the run's `idempotency_key`, else its flow run id; `<digest>` is the sha256 of
the encoded requests (the part digest: 16 hex digits of the part's). `submit.json` and
`results.json` are Prefect result records: a JSON envelope whose `result` string is the
model's JSON (`jq '.result | fromjson'`). The intent and the pointer are plain JSON.
"""

from __future__ import annotations

import base64
import inspect
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from prefect.filesystems import WritableFileSystem
from prefect.results import get_default_result_storage, resolve_result_storage
from prefect.serializers import Serializer
from pydantic import BaseModel

from batchwork_prefect.errors import BatchworkError, ConfigurationError, ResultsIntegrityError
from batchwork_prefect.models import BatchHandle, BatchResults

PREFIX = "batchwork"
_SCOPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,127}$")


def batch_scope(idempotency_key: str | None, flow_run_id: object) -> str:
    """The persistence scope: the idempotency key if set, else the flow run id."""
    if idempotency_key is None:
        if flow_run_id is None:
            raise ConfigurationError("no idempotency_key and no flow run to scope the batch to")
        return str(flow_run_id)
    if not _SCOPE.match(idempotency_key) or ".." in idempotency_key:
        raise ConfigurationError(
            f"idempotency_key {idempotency_key!r} must be 1-128 letters, digits, '.', '_', "
            "'=' or '-', starting with a letter or digit"
        )
    return idempotency_key


def part_prefix(scope: str, digest: str, part: int, part_digest: str | None) -> str:
    """The folder of one part's records."""
    return f"{PREFIX}/{scope}/{digest}/part-{part}-{(part_digest or digest)[:16]}"


def intent_key(scope: str, handle: PartRef) -> str:
    """Storage key of a part's submit intent."""
    return f"{part_prefix(scope, *handle)}/intent.json"


def submit_key(scope: str, handle: PartRef) -> str:
    """Storage key of a part's persisted `BatchHandle`."""
    return f"{part_prefix(scope, *handle)}/submit.json"


def results_key(scope: str, handle: PartRef) -> str:
    """Storage key of a part's persisted `BatchResults`."""
    return f"{part_prefix(scope, *handle)}/results.json"


def partial_key(scope: str, handle: PartRef) -> str:
    """Storage key of the results kept when a part's read failed its integrity checks."""
    return f"{part_prefix(scope, *handle)}/results.partial.json"


def latest_key(scope: str) -> str:
    """Storage key of the pointer to a scope's latest results."""
    return f"{PREFIX}/{scope}/latest.json"


PartRef = tuple[str, int, str | None]
"""(digest, part, part_digest): which part of which batch a record belongs to."""


def part_of(handle: BatchHandle) -> PartRef:
    """The part a handle covers."""
    return (handle.digest, handle.part, handle.part_digest)


class SubmitIntent(BaseModel):
    """What `submit_batch` was doing for one part: written before the create, then updated.

    `state` is `pending` (the create was sent or about to be; outcome unknown), `created`
    (`batch_id` is this part's provider batch), `not_created` (the provider refused it), or
    `resubmit` (someone settled that no batch was made: create anew).
    """

    provider: str
    model: str
    digest: str
    part: int
    part_digest: str
    request_count: int
    attempted_at: datetime
    state: Literal["pending", "created", "not_created", "resubmit"]
    batch_id: str | None = None
    note: str | None = None


def read_intent(storage: WritableFileSystem, key: str) -> SubmitIntent | None:
    """The intent at `key`, or None if there is none."""
    try:
        data: bytes = sync(storage.read_path(key))
    except (FileNotFoundError, ValueError):
        return None
    return SubmitIntent.model_validate_json(data)


def write_intent(storage: WritableFileSystem, key: str, intent: SubmitIntent) -> None:
    """Write (or overwrite) the intent at `key`."""
    sync(storage.write_path(key, intent.model_dump_json(indent=2).encode()))


def resolve_submission(
    key: str,
    *,
    adopt: str | None = None,
    resubmit: bool = False,
    storage: WritableFileSystem | str | None = None,
) -> SubmitIntent:
    """Settle an intent whose create answer was lost: adopt a batch id, or allow a resubmit.

    The next run of the flow then uses the adopted batch, or creates the part anew.
    """
    if (adopt is None) == (not resubmit):
        raise ConfigurationError("give exactly one of adopt=<batch id> or resubmit=True")
    block = resolve_storage(storage)
    intent = read_intent(block, key)
    if intent is None:
        raise ConfigurationError(f"no submit intent at {key!r}")
    if intent.state == "created":
        raise ConfigurationError(
            f"{key!r} already records batch {intent.batch_id}; nothing to settle"
        )
    settled = intent.model_copy(
        update={
            "state": "created" if adopt else "resubmit",
            "batch_id": adopt,
            "note": "settled by hand",
        }
    )
    write_intent(block, key, settled)
    return settled


_MODELS: dict[str, type[BaseModel]] = {"BatchHandle": BatchHandle, "BatchResults": BatchResults}


class BatchworkSerializer(Serializer):  # unsubscripted: Serializer[Any] breaks dispatch
    """Stores a batchwork model as its own JSON (no pickle, no class paths).

    `model` says which model to expect. The Prefect server may hand the serializer back as
    just `{"type": "batchwork-json"}` (in a task run's state), so it is optional: without it,
    the model is recognised from the JSON itself.
    """

    type: Literal["batchwork-json"] = "batchwork-json"
    model: Literal["BatchHandle", "BatchResults"] | None = None

    def dumps(self, obj: Any) -> bytes:
        """The model's JSON (for a failed task's exception: its type and message)."""
        if isinstance(obj, BaseException):
            return orjson.dumps({"exception": type(obj).__name__, "message": str(obj)})
        expected = tuple(_MODELS.values()) if self.model is None else _MODELS[self.model]
        if not isinstance(obj, expected):
            raise TypeError(f"expected a {self.model or 'batchwork model'}, got {type(obj)}")
        return obj.model_dump_json().encode()

    def loads(self, blob: bytes) -> Any:
        """The model back from its JSON (a failed task's exception as a `BatchworkError`)."""
        data = orjson.loads(blob)
        if isinstance(data, dict) and "exception" in data:
            return BatchworkError(f"{data['exception']}: {data.get('message', '')}")
        return _MODELS[self.model or _recognise(data)].model_validate(data)


def _recognise(data: Any) -> Literal["BatchHandle", "BatchResults"]:
    if isinstance(data, dict) and "submitted_at" in data:
        return "BatchHandle"
    if isinstance(data, dict) and "results" in data:
        return "BatchResults"
    raise ValueError("not a persisted BatchHandle or BatchResults")


def write_latest(storage: WritableFileSystem, scope: str, handles: Sequence[BatchHandle]) -> str:
    """Point `latest.json` of the scope at these parts' results; returns the pointer's key."""
    pointer = {
        "digest": handles[0].digest,
        "batch_ids": [batch_id for handle in handles for batch_id in handle.batch_ids],
        "results": [results_key(scope, part_of(handle)) for handle in handles],
        "written_at": datetime.now(UTC).isoformat(),
    }
    key = latest_key(scope)
    sync(storage.write_path(key, orjson.dumps(pointer, option=orjson.OPT_INDENT_2)))
    return key


def write_partial(
    storage: WritableFileSystem, scope: str, handle: BatchHandle, error: ResultsIntegrityError
) -> str:
    """Keep what a failed read did get, as plain JSON; returns the key written."""
    record = {
        "problems": error.problems,
        "bad_lines_base64": [base64.b64encode(line).decode() for line in error.bad_lines],
        "results": error.partial.model_dump(mode="json") if error.partial else None,
        "written_at": datetime.now(UTC).isoformat(),
    }
    key = partial_key(scope, part_of(handle))
    sync(storage.write_path(key, orjson.dumps(record)))
    return key


def load_batch_results(
    scope: str,
    *,
    storage: WritableFileSystem | str | None = None,
) -> BatchResults:
    """Read back a scope's latest results (scope: the `idempotency_key`, or the flow run id).

    `storage` is the block (or its "type/name") the results were written to; default: the
    default result storage.
    """
    block = resolve_storage(storage)
    pointer = orjson.loads(_read(block, latest_key(scope)))
    parts = []
    for key in pointer["results"]:
        record = orjson.loads(_read(block, str(key)))
        parts.append(BatchResults.model_validate_json(record["result"]))
    return BatchResults.concat(parts)


def sync(value: object) -> Any:
    """The value of a dual sync/async Prefect call, which must not be a coroutine here."""
    if inspect.iscoroutine(value):
        value.close()
        raise RuntimeError("batchwork's Prefect helpers are synchronous; call them outside async")
    return value


def resolve_storage(storage: WritableFileSystem | str | None) -> WritableFileSystem:
    """The storage block itself: given, by 'type/name', or the default result storage."""
    if storage is None:
        default: WritableFileSystem = sync(get_default_result_storage())
        return default
    if isinstance(storage, str):
        resolved: WritableFileSystem = sync(resolve_result_storage(storage))
        return resolved
    return storage


def _read(block: WritableFileSystem, key: str) -> bytes:
    try:
        data: bytes = sync(block.read_path(key))
        return data
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise ConfigurationError(f"no persisted batch data at {key!r}: {exc}") from None
