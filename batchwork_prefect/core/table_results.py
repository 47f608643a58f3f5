"""A table's results: each input row with its result's columns, written in the input's format.

Each output row holds the input's columns (all of them, in input order; `custom_id` holds
the id the row was sent under), then `custom_id` if the input had none, `status`, `text`,
the parsed columns of a typed batch, `error`, `attempts`, the usage counts
(`input_tokens`, `output_tokens`, `cache_creation_input_tokens`, `cache_read_input_tokens`)
and `cost_usd`, the row's own cost at Batch API prices (empty where the model is not priced;
0 for a result without usage, which is not billed). The usage and cost columns are the
row's last answer's; an answer a retry round replaced was billed too, and is counted in the
batch's `BatchResults.usage` and `cost` (`replaced_usage`), not in a row.

A typed batch (`output=`, a JSON schema or a pydantic model class) whose parsed value is an
object gets one column per top-level property, in the schema's order, so every row has the
same columns (empty where a row has no parsed value); any other kind of schema gets one
`parsed` column. `text` is kept beside them: it shows the raw answer of a row whose answer
did not parse, and keys past the schema's properties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from pydantic import BaseModel

from batchwork_prefect.core.table_csv import csv_cell, write_csv
from batchwork_prefect.core.tables import Table, pyarrow_modules
from batchwork_prefect.errors import ConfigurationError
from batchwork_prefect.models import USAGE_FIELDS, BatchResult, BatchResults
from batchwork_prefect.outputs import plain_parsed
from batchwork_prefect.pricing import Unpriced, plain, price_each

LEADING = ("status", "text")
TRAILING = ("error", "attempts", *USAGE_FIELDS, "cost_usd")


@dataclass(frozen=True)
class Typed:
    """The parsed columns of a typed batch: one per top-level property, else one `parsed`."""

    fields: tuple[str, ...] | None


def typed_columns(output: Mapping[str, Any] | type[BaseModel] | None) -> Typed | None:
    """The parsed columns for `output` (None: no output type).

    Raises `ConfigurationError` when a property has the name of a result column.
    """
    if output is None:
        return None
    if isinstance(output, type):  # named as its schema names them: by alias, dumped so
        fields = tuple(
            field.serialization_alias or field.alias or name
            for name, field in output.model_fields.items()
        )
    else:
        properties = output.get("properties")
        fields = tuple(properties) if isinstance(properties, Mapping) else ()
    if not fields:
        return Typed(None)
    taken = [name for name in fields if name in LEADING or name in TRAILING or name == "custom_id"]
    if taken:
        raise ConfigurationError(
            f"output: the propert{'ies' if len(taken) > 1 else 'y'} "
            f"{', '.join(map(repr, taken))} would have the name of a result column "
            f"({', '.join(('custom_id', *LEADING, *TRAILING))}); rename "
            f"{'them' if len(taken) > 1 else 'it'} in the schema"
        )
    return Typed(fields)


def result_columns(typed: Typed | None) -> list[str]:
    """The columns the results add after the input's (and `custom_id`), in order."""
    parsed = [] if typed is None else list(typed.fields or ("parsed",))
    return [*LEADING, *parsed, *TRAILING]


def result_cells(
    result: BatchResult, parsed: Any, cost: Decimal | None, typed: Typed | None
) -> dict[str, Any]:
    """A result's columns as values: text, JSON values, numbers, the error as a dict.

    `parsed` is the result's parsed value (None: none), a pydantic model or a JSON value.
    """
    parsed = plain_parsed(parsed)
    cells: dict[str, Any] = {"status": result.status.value, "text": result.text}
    if typed is not None:
        if typed.fields is None:
            cells["parsed"] = parsed
        else:
            values = parsed if isinstance(parsed, dict) else {}
            cells.update({name: values.get(name) for name in typed.fields})
    error = result.error
    cells["error"] = None if error is None else {"type": error.type, "message": error.message}
    cells["attempts"] = result.attempts
    usage = result.usage
    cells.update({name: None if usage is None else getattr(usage, name) for name in USAGE_FIELDS})
    cells["cost_usd"] = cost
    return cells


def row_costs(model: str | None, results: Sequence[BatchResult]) -> list[Decimal | None]:
    """Each result's own cost at Batch API prices; None where the model is not priced."""
    costs = price_each(model, [result.usage for result in results])
    return [None] * len(results) if isinstance(costs, Unpriced) else list(costs)


def output_rows(
    rows: Sequence[Mapping[str, Any]],
    custom_ids: Sequence[str],
    cells: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Each input row, its `custom_id` the one it was sent under, then its result's cells."""
    joined = []
    for row, custom_id, added in zip(rows, custom_ids, cells, strict=True):
        out = dict(row)
        out["custom_id"] = custom_id  # in the row's place, else after its columns
        out.update(added)
        joined.append(out)
    return joined


def csv_row(row: Mapping[str, Any], columns: Sequence[str]) -> list[str]:
    """An output row as CSV cells: the error as `type: message`, the cost in plain digits,
    a nested value as its JSON text."""
    cells = []
    for name in columns:
        value = row.get(name)
        if name == "error" and isinstance(value, dict):
            cells.append(f"{value['type']}: {value['message']}")
        elif name == "cost_usd" and isinstance(value, Decimal):
            cells.append(plain(value))
        else:
            cells.append(csv_cell(value))
    return cells


def json_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """An output row as JSON values: the cost as a number."""
    cost = row.get("cost_usd")
    return {**row, "cost_usd": float(cost)} if isinstance(cost, Decimal) else dict(row)


def output_path(path: Path) -> Path:
    """Where the results of `path` are written: beside it, `<name>.results.<suffix>`.

    The whole input name is kept (`prompts.csv` gives `prompts.csv.results.csv`), so the
    results of `prompts.jsonl` and `prompts.csv` in one folder stay apart.
    """
    return path.with_name(f"{path.name}.results{path.suffix}")


def check_writable(target: Path) -> None:
    """Raise `ConfigurationError` unless the results can be written to `target`."""
    partial = target.with_name(target.name + ".partial")
    try:
        if target.is_dir():
            raise IsADirectoryError(21, "a folder has this name", str(target))
        with partial.open("ab"):
            pass
        partial.unlink()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the results to {target} ({exc.strerror or exc}): move the input "
            "to a folder the worker can write to, or remove what holds that name"
        ) from None


def write_results(table: Table, results: BatchResults, typed: Typed | None = None) -> Path:
    """The table's rows with their results, in input order and the input's format, written
    beside the input (to `.partial`, then moved into place); returns the output path."""
    custom_ids = table.custom_ids
    ordered = [results[custom_id] for custom_id in custom_ids]
    costs = row_costs(results.model, ordered)
    cells = [
        result_cells(result, result.parsed, cost, typed)
        for result, cost in zip(ordered, costs, strict=True)
    ]
    target = output_path(table.path)
    partial = target.with_name(target.name + ".partial")
    if table.kind == "parquet":
        _write_parquet(partial, table.arrow, custom_ids, cells, result_columns(typed))
    else:
        rows = output_rows(table.rows, custom_ids, cells)
        if table.kind == "csv":
            columns = list(table.columns)
            if "custom_id" not in columns:
                columns.append("custom_id")
            columns += result_columns(typed)
            write_csv(partial, columns, (csv_row(row, columns) for row in rows))
        else:
            with partial.open("wb") as out:
                out.writelines(msgspec.json.encode(json_row(row)) + b"\n" for row in rows)
    partial.replace(target)
    return target


def _write_parquet(
    partial: Path,
    arrow: Any,
    custom_ids: list[str],
    cells: list[dict[str, Any]],
    columns: list[str],
) -> None:
    pyarrow, parquet = pyarrow_modules()
    types = {
        "status": pyarrow.string(),
        "text": pyarrow.string(),
        "error": pyarrow.struct([("type", pyarrow.string()), ("message", pyarrow.string())]),
        "attempts": pyarrow.int64(),
        "cost_usd": pyarrow.float64(),
        **dict.fromkeys(USAGE_FIELDS, pyarrow.int64()),
    }
    ids = pyarrow.array(custom_ids, pyarrow.string())
    names = arrow.column_names
    if "custom_id" in names:
        table = arrow.set_column(names.index("custom_id"), "custom_id", ids)
    else:
        table = arrow.append_column("custom_id", ids)
    for name in columns:
        values = [row[name] for row in cells]
        if name == "cost_usd":
            values = [None if cost is None else float(cost) for cost in values]
        typed = name in types
        table = table.append_column(
            name, pyarrow.array(values, types[name]) if typed else _inferred(pyarrow, values)
        )
    parquet.write_table(table, partial)


def _inferred(pyarrow: Any, values: list[Any]) -> Any:
    """A parsed column typed as pyarrow infers it; as JSON text where it cannot (values of
    several kinds), so the results are written all the same."""
    try:
        return pyarrow.array(values)
    except (pyarrow.ArrowException, OverflowError):
        return pyarrow.array(
            [None if value is None else msgspec.json.encode(value).decode() for value in values],
            pyarrow.string(),
        )
