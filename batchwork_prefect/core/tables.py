"""Tables of prompts read from a JSONL, CSV or Parquet file: the requests, and what is carried.

A table's columns (a JSONL row's keys) are of three kinds:

- the prompt column, `prompt_field` (default `prompt`): each row's prompt;
- request fields: a column named after a `BatchRequest` field that a cell of the format can
  hold. A CSV cell is text, so in CSV these are `custom_id`, `system`, `max_tokens`,
  `temperature`, `top_p` and `top_k` (numbers are parsed from the text). JSONL and Parquet
  values are typed, so there `stop_sequences`, `tools`, `tool_choice` and `params` are
  request fields too;
- carried columns: every other column. A carried column is not sent to the provider; it is
  written back unchanged in the row's output (`table_results`).

`carry` names columns to carry although they are named like a request field. A column named
like a request field that cannot be one here (a CSV `stop_sequences`, `messages`, a `prompt`
column while the prompt is another column) is refused unless carried: read silently as data,
it would look like a setting that is never sent.

Every problem is reported at once in one `InvalidBatchError`, each as `path:line: ...`
(JSONL and CSV lines as an editor numbers them, the header being line 1) or, for Parquet,
`path:row N: ...` (rows counted from 1); a bad value is shown in the problem.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from batchwork_prefect.core.table_csv import csv_records
from batchwork_prefect.errors import ConfigurationError, InvalidBatchError
from batchwork_prefect.models import BatchRequest

JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet",)
PARQUET_INSTALL = "pip install 'batchwork-prefect[parquet]'"

CSV_REQUEST_FIELDS = frozenset(
    {"custom_id", "system", "max_tokens", "temperature", "top_p", "top_k"}
)
"""The `BatchRequest` fields a CSV column can give: those a text cell can hold."""

TYPED_REQUEST_FIELDS = frozenset(BatchRequest.model_fields) - {"prompt", "messages"}
"""The `BatchRequest` fields a JSONL key or Parquet column can give (its values are typed);
not `messages`, which a request cannot have beside its prompt."""

Row = tuple[str, dict[str, Any]]
"""A row of the input and where it is (`path:line` or `path:row N`)."""


@dataclass(frozen=True)
class Table:
    """A table of prompts read from a file, every row valid.

    `rows` are the rows as read (for Parquet, empty: `arrow` holds the table, its columns
    written back as they are). `columns` are the input's columns in order (for JSONL, the
    keys in the order they first appear).
    """

    path: Path
    kind: str  # "jsonl", "csv" or "parquet"
    columns: tuple[str, ...]
    requests: tuple[BatchRequest, ...]
    rows: tuple[dict[str, Any], ...] = ()
    arrow: Any = None  # a pyarrow.Table, for Parquet

    @property
    def custom_ids(self) -> list[str]:
        """The custom_id each row is sent under: its own, else `request-<index>`."""
        return [
            request.custom_id or f"request-{index}" for index, request in enumerate(self.requests)
        ]


def table_kind(path: Path) -> str:
    """`jsonl`, `csv` or `parquet` by the file's suffix; else `ConfigurationError`."""
    suffix = path.suffix.lower()
    for kind, suffixes in (
        ("jsonl", JSONL_SUFFIXES),
        ("csv", CSV_SUFFIXES),
        ("parquet", PARQUET_SUFFIXES),
    ):
        if suffix in suffixes:
            return kind
    raise ConfigurationError(
        f"{path}: not a prompts file; give a .jsonl file (one JSON object per line), "
        "a .csv file with a header row, or a .parquet file"
    )


def pyarrow_modules() -> tuple[Any, Any]:
    """`pyarrow` and `pyarrow.parquet`, or `ConfigurationError` naming the install."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ConfigurationError(
            f"reading and writing .parquet files needs pyarrow: {PARQUET_INSTALL}"
        ) from None
    return pyarrow, pyarrow.parquet


def read_table(
    path: Path,
    prompt_field: str = "prompt",
    *,
    carry: Collection[str] = (),
    reserved: Collection[str] = (),
) -> Table:
    """The table in a `.jsonl`, `.csv` or `.parquet` file, in file order.

    `carry` names columns to carry though named like a request field; `reserved` are the
    names the output adds (a column of one of those names is refused). Blank lines are
    skipped. Raises `ConfigurationError` when the file is missing, of another kind, or
    Parquet without pyarrow; `InvalidBatchError` listing every problem.
    """
    kind = table_kind(path)
    if kind == "parquet":
        pyarrow_modules()
    if not path.is_file():
        raise ConfigurationError(
            f"{path}: no such file (resolved to {path.resolve()}); pass path= the absolute "
            "path of a .jsonl, .csv or .parquet file of prompts that the worker can read"
        )
    fields = (CSV_REQUEST_FIELDS if kind == "csv" else TYPED_REQUEST_FIELDS) - set(carry)
    problems: list[str] = []
    seen: dict[str, str] = {}  # each column and where it first appears
    arrow = None
    if kind == "jsonl":
        rows: Iterator[Row] = _jsonl_rows(path, problems, seen)
    elif kind == "csv":
        rows = _csv_rows(path, problems, seen)
    else:
        arrow = _parquet_table(path, problems, seen)
        rows = iter(()) if arrow is None else _parquet_rows(path, arrow, fields, prompt_field)
    checked = False
    kept: list[dict[str, Any]] = []
    requests: list[BatchRequest] = []
    first: dict[str, str] = {}
    for where, row in rows:
        if not checked and kind != "jsonl":  # the header is known: check it first
            checked = True
            if _column_problems(path, seen, kind, prompt_field, carry, reserved, problems):
                break
        request = _request(row, prompt_field, fields, where, problems)
        if request is None:
            continue
        if request.custom_id is not None:
            if request.custom_id in first:
                earlier = first[request.custom_id].removeprefix(f"{path}:")
                problems.append(
                    f"{where}: custom_id {request.custom_id!r} repeats "
                    f"{'line ' + earlier if earlier.isdigit() else earlier}; every custom_id "
                    "must be unique"
                )
                continue
            first[request.custom_id] = where
        requests.append(request)
        if arrow is None:
            kept.append(row)
    if not checked and seen:  # JSONL, or a header with no rows
        _column_problems(path, seen, kind, prompt_field, carry, reserved, problems)
    if not problems and not requests:
        problems.append(f"{path}: no prompts; add one row per prompt")
    if problems:
        raise InvalidBatchError(problems)
    return Table(path, kind, tuple(seen), tuple(requests), tuple(kept), arrow)


def _column_problems(
    path: Path,
    seen: dict[str, str],
    kind: str,
    prompt_field: str,
    carry: Collection[str],
    reserved: Collection[str],
    problems: list[str],
) -> bool:
    """Add the problems of the columns' names to `problems`; whether there were any."""
    before = len(problems)
    fields = CSV_REQUEST_FIELDS if kind == "csv" else TYPED_REQUEST_FIELDS
    # the header's line (CSV), else the file (a JSONL key may first appear on any line)
    where = next(iter(seen.values())) if kind == "csv" else str(path)
    if kind != "jsonl" and prompt_field not in seen:
        problems.append(
            f"{where}: no {prompt_field!r} column in {list(seen)}; name the prompt column "
            "with prompt_field="
        )
    for name in carry:
        if name == prompt_field:
            problems.append(f"{where}: carry names {name!r}, the prompt column; it is sent")
        elif name == "custom_id":
            problems.append(
                f"{where}: carry names 'custom_id', a column the results write (the id each "
                "row is sent under); rename the input column to carry it"
            )
        elif name not in seen:
            problems.append(
                f"{where}: carry names {name!r}, which is not a column of the file; "
                f"its columns are {list(seen)}"
            )
    for name, at in seen.items():
        if name in reserved:  # the prompt column too: its answer would overwrite it
            problems.append(
                f"{at}: the column {name!r} has the name of a column the results add; "
                "rename it in the file"
            )
        elif name == prompt_field:
            continue
        elif name in BatchRequest.model_fields and name not in fields and name not in carry:
            if name == "messages":
                problems.append(
                    f"{at}: a 'messages' column: a row's request is its {prompt_field!r}, and "
                    "cannot have messages too; carry it unchanged with carry=['messages'], or "
                    "send message lists with run_batch"
                )
            elif name == "prompt":  # and the prompt is another column
                problems.append(
                    f"{at}: a 'prompt' column, while the prompts are in {prompt_field!r}; "
                    "carry it unchanged with carry=['prompt'], or send it as the prompt "
                    "with prompt_field='prompt'"
                )
            else:
                problems.append(
                    f"{at}: the request field {name!r} cannot be read from a CSV cell; give "
                    f"it in defaults=, use a .jsonl file, or carry the column unchanged "
                    f"with carry=[{name!r}]"
                )
    return len(problems) > before


def _request(
    row: dict[str, Any], prompt_field: str, fields: Collection[str], where: str, problems: list[str]
) -> BatchRequest | None:
    """The row as a request, or None after adding its problems to `problems`."""
    given = {key: value for key, value in row.items() if key in fields and value not in (None, "")}
    prompt = row.get(prompt_field)
    if prompt is None or prompt == "":
        problems.append(f"{where}: missing or empty {prompt_field!r}")
        return None
    given["prompt"] = prompt
    try:
        return BatchRequest.model_validate(given)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [prompt_field if part == "prompt" else str(part) for part in error["loc"]]
            if loc:  # a field's value: show it
                shown = f"{'.'.join(loc)}: {error['msg']}, got {_shown(error['input'])}"
            else:
                shown = error["msg"]
            problems.append(f"{where}: {shown}")
        return None


def _shown(value: Any) -> str:
    """A value as a problem shows it: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _jsonl_rows(path: Path, problems: list[str], seen: dict[str, str]) -> Iterator[Row]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                problems.append(f"{path}:{number}: not valid JSON ({exc})")
                continue
            if not isinstance(row, dict):
                problems.append(
                    f"{path}:{number}: expected a JSON object such as "
                    f'{{"prompt": "..."}}, got {type(row).__name__}'
                )
                continue
            for key in row:
                seen.setdefault(key, f"{path}:{number}")
            yield f"{path}:{number}", row


def _csv_rows(path: Path, problems: list[str], seen: dict[str, str]) -> Iterator[Row]:
    header: list[str] | None = None
    for start, record in csv_records(path, problems):
        if header is None:
            header = [name.strip() for name in record]
            if len(set(header)) != len(header) or "" in header:
                problems.append(
                    f"{path}:{start}: the header row needs unique, non-empty column "
                    f"names, got {record}"
                )
                return
            seen.update(dict.fromkeys(header, f"{path}:{start}"))
            continue
        if len(record) != len(header):
            problems.append(
                f"{path}:{start}: {len(record)} columns, the header has "
                f"{len(header)} (quote values that contain commas)"
            )
            continue
        yield f"{path}:{start}", dict(zip(header, record, strict=True))


def _parquet_table(path: Path, problems: list[str], seen: dict[str, str]) -> Any:
    """The file's pyarrow Table, or None after adding why not to `problems`."""
    pyarrow, parquet = pyarrow_modules()
    try:
        arrow = parquet.read_table(path)
    except (pyarrow.ArrowException, OSError) as exc:
        problems.append(f"{path}: not a readable Parquet file ({exc})")
        return None
    names = list(arrow.column_names)
    if len(set(names)) != len(names) or "" in names:
        problems.append(f"{path}: the columns need unique, non-empty names, got {names}")
        return None
    seen.update(dict.fromkeys(names, str(path)))
    return arrow


def _parquet_rows(
    path: Path, arrow: Any, fields: Collection[str], prompt_field: str
) -> Iterator[Row]:
    # Only the columns sent are turned into Python values: carried ones stay as they are.
    sent = [name for name in arrow.column_names if name in fields or name == prompt_field]
    for number, row in enumerate(arrow.select(sent).to_pylist(), start=1):
        yield f"{path}:row {number}", row
