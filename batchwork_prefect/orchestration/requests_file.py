"""Reading a batch's requests from a JSONL file on the worker, past Prefect's parameter limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import fsspec
import orjson

from batchwork_prefect.errors import ConfigurationError, InvalidBatchError

MAX_REQUESTS_FILE_BYTES = 1_024_000_000
"""The most a requests file may hold: four of the largest provider batch (Anthropic's 256 MB).
Reading stops past it, so a wrong path (/dev/zero) cannot fill memory."""

_CHUNK_BYTES = 1 << 20


def read_requests_file(
    path: str, *, max_bytes: int = MAX_REQUESTS_FILE_BYTES
) -> list[dict[str, Any]]:
    """The request objects of a JSONL file, one per line (blank lines skipped).

    `path` is a local path or any fsspec URL the worker can read (`s3://...` with s3fs).
    Lines that are not JSON objects are all reported together as one `InvalidBatchError`,
    each as `path:line`, as is a file over `max_bytes`. A path that cannot be opened or
    read (missing, an unknown protocol) raises `ConfigurationError`.
    """
    try:
        opened = fsspec.open(path, "rb")
    except ValueError as exc:  # fsspec: "Protocol not known: foo"
        raise ConfigurationError(
            f"cannot read requests from {path!r}: {exc}; give a local path or an fsspec URL "
            "(s3://bucket/requests.jsonl, memory://..., http(s)://...)"
        ) from None
    except ImportError as exc:  # a known protocol whose package is missing
        raise ConfigurationError(
            f"cannot read requests from {path!r}: {exc} on the worker"
        ) from None
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        if _size(opened) > max_bytes:  # a file of known size fails before it is read
            raise _too_large(path, max_bytes)
        with opened as handle:
            for number, line in _numbered_lines(handle, path, max_bytes):
                if not line.strip():
                    continue
                try:
                    row = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    problems.append(f"{path}:{number}: not JSON ({exc})")
                    continue
                if not isinstance(row, dict):
                    problems.append(f"{path}:{number}: not a JSON object")
                    continue
                rows.append(row)
    except OSError as exc:
        raise ConfigurationError(f"cannot read requests from {path!r}: {exc}") from None
    if problems:
        raise InvalidBatchError(problems)
    return rows


def _numbered_lines(handle: IO[bytes], path: str, max_bytes: int) -> Iterator[tuple[int, bytes]]:
    """Each line of `handle` and its number from 1, read a chunk at a time; raises once more
    than `max_bytes` were read. A long line's pieces are joined once, in linear time."""
    number, read, pending = 0, 0, list[bytes]()
    while chunk := handle.read(_CHUNK_BYTES):
        read += len(chunk)
        if read > max_bytes:
            raise _too_large(path, max_bytes)
        *complete, rest = chunk.split(b"\n")
        if complete:
            complete[0] = b"".join([*pending, complete[0]])
            pending = []
        for line in complete:
            number += 1
            yield number, line
        if rest:
            pending.append(rest)
    if pending:
        yield number + 1, b"".join(pending)


def _size(opened: fsspec.core.OpenFile) -> int:
    """The file's size where its filesystem tells it, else 0 (a device, a stream)."""
    try:
        size = opened.fs.size(opened.path)
    except NotImplementedError:
        return 0
    return size if isinstance(size, int) else 0


def _too_large(path: str, max_bytes: int) -> InvalidBatchError:
    return InvalidBatchError(
        [
            f"{path}: more than {max_bytes:,} bytes, the most a requests file may hold (four "
            "of the largest provider batch); check that the path names a JSONL file of "
            "requests, and split larger ones over several runs"
        ]
    )
