"""Where and how a batch's handle and results are persisted: readable JSON, never pickle.

Layout inside the result storage (a Prefect storage block; default: the local Prefect
storage path, `$PREFECT_HOME/storage`):

    batchwork/<scope>/<digest>/submit.json    the BatchHandle (which provider batches)
    batchwork/<scope>/<digest>/results.json   the BatchResults
    batchwork/<scope>/latest.json             {"digest", "batch_ids", "results"} of the last read
    batchwork/<scope>/<digest>/results.partial.json   written only when results fail their
                                              integrity checks: the results that parsed, the
                                              problems, and the unreadable lines (base64)

`<scope>` is the run's `idempotency_key`, else its flow run id; `<digest>` is the sha256 of
the encoded requests. The two record files are Prefect result records: a JSON envelope whose
`result` string is the model's JSON (`jq '.result | fromjson'`).
"""

from __future__ import annotations

import base64
import inspect
import re
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from prefect.filesystems import WritableFileSystem
from prefect.results import get_default_result_storage, resolve_result_storage
from prefect.serializers import Serializer
from pydantic import BaseModel

from batchwork_prefect.errors import ConfigurationError, ResultsIntegrityError
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


def submit_key(scope: str, digest: str) -> str:
    """Storage key of a job's persisted `BatchHandle`."""
    return f"{PREFIX}/{scope}/{digest}/submit.json"


def results_key(scope: str, digest: str) -> str:
    """Storage key of a job's persisted `BatchResults`."""
    return f"{PREFIX}/{scope}/{digest}/results.json"


def partial_key(scope: str, digest: str) -> str:
    """Storage key of the results kept when a read failed its integrity checks."""
    return f"{PREFIX}/{scope}/{digest}/results.partial.json"


def latest_key(scope: str) -> str:
    """Storage key of the pointer to a scope's latest results."""
    return f"{PREFIX}/{scope}/latest.json"


_MODELS: dict[str, type[BaseModel]] = {"BatchHandle": BatchHandle, "BatchResults": BatchResults}


class BatchworkSerializer(Serializer):  # unsubscripted: Serializer[Any] breaks dispatch
    """Stores a batchwork model as its own JSON (no pickle, no class paths)."""

    type: Literal["batchwork-json"] = "batchwork-json"
    model: Literal["BatchHandle", "BatchResults"]

    def dumps(self, obj: Any) -> bytes:
        """The model's JSON."""
        expected = _MODELS[self.model]
        if not isinstance(obj, expected):
            raise TypeError(f"expected a {self.model}, got {obj.__class__.__name__}")
        return obj.model_dump_json().encode()

    def loads(self, blob: bytes) -> Any:
        """The model back from its JSON."""
        return _MODELS[self.model].model_validate_json(blob)


def write_latest(storage: WritableFileSystem, scope: str, handle: BatchHandle) -> str:
    """Point `latest.json` of the scope at this job's results; returns the pointer's key."""
    pointer = {
        "digest": handle.digest,
        "batch_ids": handle.batch_ids,
        "results": results_key(scope, handle.digest),
        "written_at": datetime.now(UTC).isoformat(),
    }
    key = latest_key(scope)
    sync(storage.write_path(key, orjson.dumps(pointer, option=orjson.OPT_INDENT_2)))
    return key


def write_partial(
    storage: WritableFileSystem, scope: str, digest: str, error: ResultsIntegrityError
) -> str:
    """Keep what a failed read did get, as plain JSON; returns the key written."""
    record = {
        "problems": error.problems,
        "bad_lines_base64": [base64.b64encode(line).decode() for line in error.bad_lines],
        "results": error.partial.model_dump(mode="json") if error.partial else None,
        "written_at": datetime.now(UTC).isoformat(),
    }
    key = partial_key(scope, digest)
    sync(storage.write_path(key, orjson.dumps(record)))
    return key


def load_batch_results(
    scope: str,
    *,
    digest: str | None = None,
    storage: WritableFileSystem | str | None = None,
) -> BatchResults:
    """Read persisted results back: by `idempotency_key` (or flow run id) and optional digest.

    Without `digest`, the scope's latest results are read. `storage` is the block (or its
    "type/name") the results were written to; default: the default result storage.
    """
    block = _storage(storage)
    if digest is None:
        pointer = orjson.loads(_read(block, latest_key(scope)))
        digest = str(pointer["digest"])
    record = orjson.loads(_read(block, results_key(scope, digest)))
    return BatchResults.model_validate_json(record["result"])


def sync(value: object) -> Any:
    """The value of a dual sync/async Prefect call, which must not be a coroutine here."""
    if inspect.iscoroutine(value):
        value.close()
        raise RuntimeError("batchwork's Prefect helpers are synchronous; call them outside async")
    return value


def _storage(storage: WritableFileSystem | str | None) -> WritableFileSystem:
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
