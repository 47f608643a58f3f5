"""Reading a batch's requests from a JSONL file on the worker, past Prefect's parameter limit."""

from __future__ import annotations

from typing import Any

import fsspec
import orjson

from batchwork_prefect.errors import ConfigurationError, InvalidBatchError


def read_requests_file(path: str) -> list[dict[str, Any]]:
    """The request objects of a JSONL file, one per line (blank lines skipped).

    `path` is a local path or any fsspec URL the worker can read (`s3://...` with s3fs).
    Lines that are not JSON objects are all reported together as one `InvalidBatchError`,
    each as `path:line`.
    """
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        with fsspec.open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
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
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        raise ConfigurationError(f"cannot read requests from {path!r}: {exc}") from None
    if problems:
        raise InvalidBatchError(problems)
    return rows
