"""A table's results as rows: the result columns, typed (parsed) columns, CSV and JSON cells,
each row's own cost, and the Parquet writer's fallback for values of several kinds."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import BaseModel

from batchwork_prefect import BatchResult, BatchResults, ConfigurationError
from batchwork_prefect.core.table_results import (
    Typed,
    csv_row,
    json_row,
    output_path,
    output_rows,
    result_cells,
    result_columns,
    row_costs,
    typed_columns,
    write_results,
)
from batchwork_prefect.core.tables import read_table
from batchwork_prefect.models import Usage
from batchwork_prefect.pricing import BatchCost, price_usages

MODEL = "anthropic/claude-opus-4-8"
USAGE_COLUMNS = [
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
]
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "facts": {"type": "object"}},
    "required": ["city"],
}


class Capital(BaseModel):
    city: str
    population: int


def _ok(custom_id: str = "a", text: str = "Paris", **usage: int) -> BatchResult:
    return BatchResult(
        custom_id=custom_id,
        status="succeeded",
        text=text,
        usage={"input_tokens": 10, "output_tokens": 2, **usage},
    )


def _errored(custom_id: str = "b") -> BatchResult:
    return BatchResult(
        custom_id=custom_id,
        status="errored",
        error={"type": "api_error", "message": "boom"},
        attempts=2,
    )


def test_the_result_columns_come_in_a_fixed_order() -> None:
    tail = ["error", "attempts", *USAGE_COLUMNS, "cost_usd"]
    assert result_columns(None) == ["status", "text", *tail]
    assert result_columns(Typed(("city", "facts"))) == ["status", "text", "city", "facts", *tail]
    assert result_columns(Typed(None)) == ["status", "text", "parsed", *tail]


def test_an_untyped_result_as_cells() -> None:
    assert result_cells(_ok(), None, Decimal("0.0005"), None) == {
        "status": "succeeded",
        "text": "Paris",
        "error": None,
        "attempts": 1,
        "input_tokens": 10,
        "output_tokens": 2,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "cost_usd": Decimal("0.0005"),
    }
    cells = result_cells(_errored(), None, None, None)
    assert cells["error"] == {"type": "api_error", "message": "boom"}
    assert cells["attempts"] == 2
    assert [cells[name] for name in USAGE_COLUMNS] == [None] * 4


def test_an_object_schema_gives_one_column_per_property_in_schema_order() -> None:
    typed = typed_columns(SCHEMA)
    assert typed == Typed(("city", "facts"))
    parsed = {"facts": {"river": "Seine"}, "city": "Paris", "extra": 1}
    cells = result_cells(_ok(), parsed, None, typed)
    assert list(cells)[:4] == ["status", "text", "city", "facts"]
    assert (cells["city"], cells["facts"]) == ("Paris", {"river": "Seine"})
    assert "extra" not in cells  # past the schema's properties: only in `text`
    errored = result_cells(_errored(), None, None, typed)  # same columns, empty
    assert (errored["city"], errored["facts"]) == (None, None)


def test_a_model_output_gives_its_fields_and_its_instances_are_dumped() -> None:
    typed = typed_columns(Capital)
    assert typed == Typed(("city", "population"))
    cells = result_cells(_ok(), Capital(city="Paris", population=2), None, typed)
    assert (cells["city"], cells["population"]) == ("Paris", 2)


def test_a_schema_without_properties_gives_one_parsed_column() -> None:
    for schema in ({"type": "array", "items": {"type": "integer"}}, {"type": "object"}):
        typed = typed_columns(schema)
        assert typed == Typed(None)
        assert result_cells(_ok(), [1, 2], None, typed)["parsed"] == [1, 2]
    assert typed_columns(None) is None


def test_a_property_named_like_a_result_column_is_refused() -> None:
    schema = {"type": "object", "properties": {"text": {}, "city": {}, "status": {}}}
    with pytest.raises(ConfigurationError) as raised:
        typed_columns(schema)
    assert str(raised.value).startswith(
        "output: the properties 'text', 'status' would have the name of a result column"
    )
    assert str(raised.value).endswith("rename them in the schema")


def test_output_rows_keep_input_order_columns_and_fill_custom_id() -> None:
    rows = [{"custom_id": "", "prompt": "Hi", "topic": "x"}, {"custom_id": "b", "prompt": "Yo"}]
    cells = [{"status": "succeeded"}, {"status": "errored"}]
    joined = output_rows(rows, ["request-0", "b"], cells)
    assert joined == [
        {"custom_id": "request-0", "prompt": "Hi", "topic": "x", "status": "succeeded"},
        {"custom_id": "b", "prompt": "Yo", "status": "errored"},
    ]
    assert list(joined[0]) == ["custom_id", "prompt", "topic", "status"]
    appended = output_rows([{"prompt": "Hi"}], ["request-0"], [{"status": "succeeded"}])
    assert list(appended[0]) == ["prompt", "custom_id", "status"]


def test_csv_cells_error_cost_nested_values_and_nothing() -> None:
    row = {
        "prompt": "Hi",
        "facts": {"river": "Seine"},
        "ok": True,
        "n": 3,
        "error": {"type": "api_error", "message": "boom"},
        "cost_usd": Decimal("0.00050"),
        "text": None,
    }
    assert csv_row(row, list(row)) == [
        "Hi",
        '{"river":"Seine"}',
        "true",
        "3",
        "api_error: boom",
        "0.0005",
        "",
    ]


def test_an_unpriced_row_has_an_empty_cost_cell() -> None:
    assert csv_row({"cost_usd": None, "error": None}, ["cost_usd", "error"]) == ["", ""]


def test_json_rows_give_the_cost_as_a_number() -> None:
    assert json_row({"a": 1, "cost_usd": Decimal("0.0005")}) == {"a": 1, "cost_usd": 0.0005}
    assert json_row({"cost_usd": None}) == {"cost_usd": None}


def test_each_rows_cost_is_its_own_and_they_add_up_to_the_batchs() -> None:
    results = [_ok("a"), _ok("b", input_tokens=5000, cache_read_input_tokens=300), _errored()]
    costs = row_costs(MODEL, results)
    priced = price_usages(
        MODEL, [Usage(input_tokens=5000, output_tokens=2, cache_read_input_tokens=300)]
    )
    assert isinstance(priced, BatchCost)
    assert costs[1] == priced.total
    assert costs[0] is not None and costs[0] > 0
    assert costs[2] == 0  # no usage: not billed
    batch_cost = BatchResults(results=results, model=MODEL).cost
    assert batch_cost is not None and sum(c for c in costs if c is not None) == batch_cost.total
    assert row_costs("anthropic/no-such-model", results) == [None, None, None]
    assert row_costs(None, results) == [None, None, None]


def test_output_paths_keep_the_whole_name_and_the_format() -> None:
    assert [output_path(Path(f"/d/prompts.{ext}")).name for ext in ("csv", "jsonl", "parquet")] == [
        "prompts.csv.results.csv",
        "prompts.jsonl.results.jsonl",
        "prompts.parquet.results.parquet",
    ]


def _parquet_results(tmp_path: Path, parsed: list[Any], output: dict[str, Any]) -> pa.Table:
    source = tmp_path / "p.parquet"
    pq.write_table(pa.table({"prompt": [f"q{i}" for i in range(len(parsed))]}), source)
    table = read_table(source)
    results = BatchResults(
        results=[
            _ok(f"request-{i}", text="{}").with_parsed(value) for i, value in enumerate(parsed)
        ],
        model=MODEL,
    )
    return pq.read_table(write_results(table, results, typed_columns(output)))


def test_parquet_parsed_columns_are_typed_and_fall_back_to_json_text(tmp_path: Path) -> None:
    out = _parquet_results(
        tmp_path,
        [{"city": "Paris", "facts": {"n": 1}}, {"city": None, "facts": {"n": "one"}}],
        SCHEMA,
    )
    assert out.schema.field("city").type == pa.string()
    # {"n": 1} and {"n": "one"} make no one struct type: written as JSON text instead
    assert out.column("facts").to_pylist() == ['{"n":1}', '{"n":"one"}']
    assert out.schema.field("error").type == pa.struct(
        [("type", pa.string()), ("message", pa.string())]
    )
    assert out.schema.field("cost_usd").type == pa.float64()


def test_a_row_costs_its_last_answer_and_the_replaced_one_stays_in_the_batch_cost() -> None:
    first = BatchResults(results=[_ok("a", input_tokens=900)], model=MODEL)
    again = BatchResults(results=[_ok("a", input_tokens=100)], model=MODEL)
    merged = first.merge(again)  # a retry round's answer over the first (billed) one
    [cost] = row_costs(MODEL, merged.results)
    alone = price_usages(MODEL, [merged["a"].usage])  # type: ignore[list-item]
    assert isinstance(alone, BatchCost) and cost == alone.total
    assert merged.cost is not None and merged.cost.total > cost


def test_integers_past_64_bits_are_written_whole(tmp_path: Path) -> None:
    from batchwork_prefect.core.table_csv import csv_cell
    from batchwork_prefect.orchestration.summary import preview_rows

    huge = 2**70
    assert csv_cell(huge) == str(huge)
    assert csv_cell({"n": [huge]}) == f'{{"n":[{huge}]}}'
    result = BatchResult(custom_id="a", status="succeeded", text="{}", parsed={"n": huge})
    [row] = preview_rows(BatchResults(results=[result]))
    assert row["n"] == str(huge)


def test_cells_are_written_as_the_model_gave_them_formula_signs_too() -> None:
    # docs/deployments.md: no escaping; open untrusted output as text, not as a workbook
    row = {"custom_id": "a", "status": "succeeded", "text": '=HYPERLINK("http://x")'}
    assert csv_row(row, ["custom_id", "status", "text"]) == [
        "a",
        "succeeded",
        '=HYPERLINK("http://x")',
    ]


def test_a_models_columns_and_cells_are_named_as_its_schema_names_them() -> None:
    from pydantic import Field

    class Aliased(BaseModel):
        city: str = Field(alias="cityName")

    typed = typed_columns(Aliased)
    assert typed is not None
    result = BatchResult(
        custom_id="a", status="succeeded", text="{}", parsed=Aliased(cityName="Paris")
    )
    cells = result_cells(result, result.parsed, None, typed)
    assert "cityName" in result_columns(typed) and cells["cityName"] == "Paris"
