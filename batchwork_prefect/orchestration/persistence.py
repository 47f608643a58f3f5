"""Where and how a batch's records are persisted: readable JSON, never pickle.

Layout inside the result storage (a Prefect storage block; default: the local Prefect
storage path, `$PREFECT_HOME/storage`). A batch has one part per provider batch (several
when it exceeds the provider's limits), each with its own records:

    batchwork/<scope>/<digest>/part-<n>-<part digest>/intent.json   written before the create
                                    and updated after it: {state, batch_id, attempted_at, ...}
    batchwork/<scope>/<digest>/part-<n>-<part digest>/claim-<g>.json  who may create the
                                    part now (created exclusively; expires; see submission)
    batchwork/<scope>/<digest>/part-<n>-<part digest>/submit.json   the part's PartHandle
    batchwork/<scope>/<digest>/part-<n>-<part digest>/ended.json    its final BatchSnapshot
    batchwork/<scope>/<digest>/part-<n>-<part digest>/results.json  the part's BatchResults
    batchwork/<scope>/<digest>/part-<n>-<part digest>/results.partial.json   only when the
                                    results failed their integrity checks: the results that
                                    parsed, the problems, the unreadable lines (base64)
    batchwork/<scope>/latest.json   {"digest", "batch_ids", "results": [keys]} of the last read
    batchwork/<root run id>/latest.json   the same, for the last batch of a root flow run

`<scope>` is the run's `idempotency_key`, else `<root run id>/<name>`: the outermost flow
run's id and the call site's name (`batch_name`, else `call-<n>` for the n-th `run_batch`
of that run). `<digest>` is the sha256 of the encoded requests (the part digest: 16 hex
digits of the part's). `submit.json`, `ended.json` and `results.json` are Prefect result
records: a JSON envelope whose `result` string is the model's JSON with a `sha256` of the
rest in front (`jq '.result | fromjson'`). The intent, claims and pointers are plain JSON.
"""

from __future__ import annotations

import base64
import os
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, overload

import orjson
from prefect.filesystems import LocalFileSystem, RemoteFileSystem, WritableFileSystem
from prefect.results import get_default_result_storage, resolve_result_storage

from batchwork_prefect.core import BuiltBatch
from batchwork_prefect.errors import (
    BatchworkError,
    ConfigurationError,
    ResultsIntegrityError,
)
from batchwork_prefect.models import PartHandle
from batchwork_prefect.orchestration._sync import sync

PREFIX = "batchwork"
DEFAULT_NAME = "default"
"""The call-site name of tasks used on their own, without `batch_name`."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=-]{0,127}")
_RUN_ID = re.compile(r"[0-9a-fA-F-]{36}")


def check_name(value: str, what: str) -> str:
    """`value` if it is fit to be a storage folder: else `ConfigurationError`."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or ".." in value:
        raise ConfigurationError(
            f"{what} {value!r} must be 1-128 letters, digits, '.', '_', '=' or '-', starting "
            "with a letter or digit"
        )
    return value


def batch_scope(
    idempotency_key: str | None, root_run_id: object, batch_name: str | None = None
) -> str:
    """The persistence scope of one batch.

    The idempotency key if set (shared by every flow run that passes it); else the
    outermost flow run's id and the call site's name, so a retry of that run, or of the
    parent flow that calls `run_batch`, finds the same records.
    """
    if idempotency_key is not None:
        return check_name(idempotency_key, "idempotency_key")
    if root_run_id is None:
        raise ConfigurationError(
            "no idempotency_key and no flow run to scope the batch to: run it inside a flow "
            "or pass idempotency_key"
        )
    return f"{root_run_id}/{check_name(batch_name or DEFAULT_NAME, 'batch_name')}"


def check_scope(scope: str) -> str:
    """A scope given by a user: an idempotency key, a flow run id, or `<run id>/<name>`."""
    run_id, slash, name = scope.partition("/") if isinstance(scope, str) else ("", "", "")
    if slash and _RUN_ID.fullmatch(run_id):
        check_name(name, "batch name")
        return scope
    return check_name(scope, "scope (an idempotency_key or a flow run id)")


def part_prefix(scope: str, digest: str, part: int, part_digest: str | None) -> str:
    """The folder of one part's records."""
    return f"{PREFIX}/{scope}/{digest}/part-{part}-{(part_digest or digest)[:16]}"


def intent_key(scope: str, handle: PartRef) -> str:
    """Storage key of a part's submit intent."""
    return f"{part_prefix(scope, *handle)}/intent.json"


def claim_key(scope: str, handle: PartRef, generation: int) -> str:
    """Storage key of a part's claim of the given generation (see `submission`)."""
    return f"{part_prefix(scope, *handle)}/claim-{generation}.json"


def round_key(scope: str, digest: str, attempt: int) -> str:
    """Storage key of the requests a retry round sends again (see `rounds`)."""
    return f"{PREFIX}/{scope}/{digest}/round-{attempt}.json"


def ended_key(scope: str, handle: PartRef) -> str:
    """Storage key of a part's final `BatchSnapshot`, written once its wait is over."""
    return f"{part_prefix(scope, *handle)}/ended.json"


def submit_key(scope: str, handle: PartRef) -> str:
    """Storage key of a part's persisted `PartHandle`."""
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


@overload
def part_ref(of: PartHandle) -> PartRef: ...
@overload
def part_ref(of: BuiltBatch, part: int) -> PartRef: ...
def part_ref(of: BuiltBatch | PartHandle, part: int | None = None) -> PartRef:
    """A part's identity: the part a handle covers, or part `part` of a built batch (checked
    to be one of its parts). The same part gives the same identity either way."""
    if isinstance(of, PartHandle):
        return (of.digest, of.part, of.part_digest)
    if part is None or not 0 <= part < len(of.parts):
        raise ConfigurationError(f"part {part} out of range: the batch has {len(of.parts)}")
    return (of.digest, part, of.parts[part].digest)


def _block_path(storage: LocalFileSystem | RemoteFileSystem, key: str) -> Any:
    """Where the block keeps `key`, by its own basepath rules: Prefect's private
    `_resolve_path`, the one place it is used (pinned: prefect 3.9 in pyproject.toml)."""
    return storage._resolve_path(key)


def read_optional(storage: WritableFileSystem, key: str) -> bytes | None:
    """The bytes at `key`, or None if nothing is there."""
    try:
        if isinstance(storage, RemoteFileSystem):
            # One GET: `read_path` opens the file (its ETag, then a read bound to it), which
            # fails if another process rewrites a claim or an intent in between.
            remote, filesystem = _block_path(storage, key), storage.filesystem
            if _exclusive_protocol(storage.basepath):  # s3fs: no HEAD for the size first
                return bytes(filesystem.cat_file(remote, max_concurrency=1))
            return bytes(filesystem.cat_file(remote))
        data: bytes = sync(storage.read_path(key))
    except BatchworkError:
        raise  # our own errors (a ConfigurationError is a ValueError too) are not "absent"
    except (FileNotFoundError, ValueError):
        return None
    return data


def replace_whole(storage: WritableFileSystem, key: str, data: bytes) -> None:
    """Write `data` at `key` so that a reader sees the old bytes or the new, never a part.

    A local file is written under a private name and renamed into place; an object store's
    PUT is whole already.
    """
    if isinstance(storage, LocalFileSystem):
        path = _block_path(storage, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        staged.write_bytes(data)
        os.replace(staged, path)
        return
    sync(storage.write_path(key, data))


def create_exclusive(storage: WritableFileSystem, key: str, data: bytes) -> bool | None:
    """Write `data` at `key` only if nothing is there: True if written, False if taken.

    None when the storage offers no atomic create-if-absent (only local folders and S3,
    through s3fs, are known to): the caller cannot rely on it then.
    """
    if isinstance(storage, LocalFileSystem):
        path = _block_path(storage, key)  # the block's own basepath rules
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a private name, then linked into place: an O_EXCL file is
        # empty for a moment, and a reader then would take it for a dead claim.
        staged = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        staged.write_bytes(data)
        try:
            os.link(staged, path)
        except FileExistsError:
            return False
        finally:
            staged.unlink()
        return True
    if isinstance(storage, RemoteFileSystem) and _exclusive_protocol(storage.basepath):
        remote = _block_path(storage, key)
        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                storage.filesystem.pipe_file(remote, data, mode="create")  # If-None-Match: *
                return True
            except FileExistsError:
                return False
            except OSError as exc:
                code = _s3_error_code(exc)
                if code == "PreconditionFailed":
                    return False
                # AWS answers 409 to a conditional write racing another: ask again
                if code != "ConditionalRequestConflict" or attempt == _CONFLICT_RETRIES:
                    raise
                time.sleep(0.1 * (attempt + 1))
    return None


_CONFLICT_RETRIES = 5


def _s3_error_code(exc: BaseException) -> str | None:
    """The S3 error code behind an s3fs `OSError` (botocore's `Error.Code`), if any."""
    cause = exc.__cause__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def _exclusive_protocol(basepath: str) -> bool:
    return basepath.split("://", 1)[0] in ("s3", "s3a")


def write_latest(
    storage: WritableFileSystem,
    scope: str,
    handles: Sequence[PartHandle],
    *,
    aliases: Iterable[str] = (),
) -> str:
    """Point `latest.json` of the scope at these parts' results; returns the pointer's key.

    Each of `aliases` (flow run ids) gets the same pointer, so `load_batch_results(<run
    id>)` finds the last batch read under a pipeline's root run, or by a subflow run.
    """
    pointer = {
        "scope": scope,
        "digest": handles[0].digest,
        "batch_ids": [handle.batch_id for handle in handles],
        "results": [results_key(scope, part_ref(handle)) for handle in handles],
        "attempts": [handle.attempt for handle in handles],  # retry rounds merge in order
        "written_at": datetime.now(UTC).isoformat(),
    }
    encoded = orjson.dumps(pointer, option=orjson.OPT_INDENT_2)
    key = latest_key(scope)
    sync(storage.write_path(key, encoded))
    for alias in aliases:
        if latest_key(alias) != key:
            sync(storage.write_path(latest_key(alias), encoded))
    return key


def write_partial(
    storage: WritableFileSystem, scope: str, handle: PartHandle, error: ResultsIntegrityError
) -> str:
    """Keep what a failed read did get, as plain JSON; returns the key written."""
    record = {
        "problems": error.problems,
        "bad_lines_base64": [base64.b64encode(line).decode() for line in error.bad_lines],
        "results": error.partial.model_dump(mode="json") if error.partial else None,
        "written_at": datetime.now(UTC).isoformat(),
    }
    key = partial_key(scope, part_ref(handle))
    sync(storage.write_path(key, orjson.dumps(record)))
    return key


STORAGE_FORMS = (
    "give a saved storage block, its 'type/name' (e.g. local-file-system/results or "
    "s3-bucket/results; `prefect block ls` lists the saved blocks), or nothing for the "
    "default result storage"
)


def resolve_storage(storage: WritableFileSystem | str | None) -> WritableFileSystem:
    """The storage block itself: given, by 'type/name', or the default result storage."""
    if storage is None:
        default: WritableFileSystem = sync(get_default_result_storage())
        return default
    if isinstance(storage, str):
        try:
            resolved: WritableFileSystem = sync(resolve_result_storage(storage))
        except (ValueError, TypeError, KeyError) as exc:  # Prefect's answers for a bad name
            raise ConfigurationError(
                f"result storage {storage!r} does not load ({exc}); {STORAGE_FORMS}"
            ) from None
        return resolved
    return storage
