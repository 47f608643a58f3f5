"""The deployable flows in `flows/`: the capital-cities example and the prompts-file step."""

from __future__ import annotations

import csv
import re
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from prefect.utilities.callables import parameter_schema

from batchwork_prefect import (
    AnthropicCredentials,
    ConfigurationError,
    IncompleteResultsError,
    InvalidBatchError,
)
from batchwork_prefect.core.table_results import output_path, result_columns, typed_columns
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.models import USAGE_FIELDS, Usage
from batchwork_prefect.pricing import BatchCost, price_usages
from flows.capital_cities import capital_cities, saved_credentials
from flows.prompts_file import batch_prompts_file
from tests.support import API_KEY

MODEL = "anthropic/claude-opus-4-8"
RESULT_COLUMNS = result_columns(None)


def _credentials(emulator: Emulator) -> AnthropicCredentials:
    return AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)


def test_capital_cities(emulator: Emulator) -> None:
    answers = capital_cities(credentials=_credentials(emulator), poll_interval=0.05)
    assert answers == {"fr": "Paris", "jp": "Tokyo"}


def test_saved_credentials_names_a_saved_block_else_none() -> None:
    AnthropicCredentials(api_key=API_KEY, base_url="http://127.0.0.1:9").save(
        "example-saved", overwrite=True
    )
    assert saved_credentials("example-saved") == "example-saved"
    assert saved_credentials("example-never-saved") is None


@pytest.mark.parametrize("flow", [capital_cities, batch_prompts_file], ids=lambda f: f.name)
def test_every_flow_parameter_has_a_description(flow: Any) -> None:
    properties = parameter_schema(flow.fn).model_dump()["properties"]
    assert properties, "the flow has parameters"
    missing = [name for name, prop in properties.items() if not prop.get("description")]
    assert missing == []


def _cost(row: dict[str, Any]) -> Decimal:
    """What the row's usage costs at Batch API prices, priced on its own."""
    usage = Usage(**{name: int(row[name]) for name in USAGE_FIELDS})
    priced = price_usages(MODEL, [usage])
    assert isinstance(priced, BatchCost)
    return priced.total


def test_prompts_file_jsonl_carries_keys_and_writes_one_row_per_request_in_order(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "prompts.jsonl"
    source.write_bytes(
        b'{"custom_id": "fr", "prompt": "Capital of France? One word.", "meta": {"page": 3}}\n\n'
        b'{"prompt": "[[emulate:errored:invalid_request_error]] broken", "max_tokens": 5, '
        b'"tags": ["x"]}\n'
        b'{"custom_id": "jp", "prompt": "Capital of Japan? One word."}\n'
    )
    written = batch_prompts_file(
        str(source), credentials=_credentials(emulator), poll_interval=0.05
    )
    assert written == str(output_path(source)) == str(tmp_path / "prompts.jsonl.results.jsonl")
    rows = [orjson.loads(line) for line in Path(written).read_bytes().splitlines()]
    assert [(row["custom_id"], row["status"]) for row in rows] == [
        ("fr", "succeeded"),
        ("request-1", "errored"),
        ("jp", "succeeded"),
    ]
    assert list(rows[0]) == ["custom_id", "prompt", "meta", *RESULT_COLUMNS]
    assert rows[0]["meta"] == {"page": 3} and rows[0]["text"] == "Paris"
    assert list(rows[1]) == ["prompt", "max_tokens", "tags", "custom_id", *RESULT_COLUMNS]
    assert (rows[1]["max_tokens"], rows[1]["tags"]) == (5, ["x"])
    assert rows[1]["error"]["type"] == "invalid_request_error" and set(rows[1]["error"]) == {
        "type",
        "message",
    }
    assert rows[1]["input_tokens"] is None and rows[1]["cost_usd"] == 0
    assert rows[2]["text"] == "Tokyo" and rows[2]["error"] is None
    assert rows[0]["input_tokens"] > 0
    assert rows[0]["cost_usd"] == float(_cost(rows[0])) > 0


def test_prompts_file_retries_passing_failures_and_writes_its_table_before_failing(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "prompts.csv"
    source.write_text(
        "custom_id,prompt,note\n"
        "busy,[[emulate:errored:overloaded_error:x1]] a,first\n"
        "bad,[[emulate:errored:invalid_request_error]] b,second\n",
        encoding="utf-8",
    )
    with pytest.raises(IncompleteResultsError, match="1 of 2 requests are left failing"):
        batch_prompts_file(
            str(source), credentials=_credentials(emulator), poll_interval=0.05, allow_failed=0
        )
    rows = _read_csv(output_path(source))
    assert [(row["custom_id"], row["note"], row["status"], row["attempts"]) for row in rows] == [
        ("busy", "first", "succeeded", "2"),
        ("bad", "second", "errored", "1"),
    ]
    assert emulator.batches_created == 2


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_prompts_file_csv_with_carried_columns_writes_a_csv_in_input_order(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "questions.csv"
    source.write_text(
        "id,question,topic,custom_id,max_tokens\n"
        '7,Capital of Japan? One word.,"geo, asia",jp,16\n'
        "8,[[emulate:errored:invalid_request_error]] broken,,,\n"
        '9,Capital of France? One word.,"say ""hi""",fr,\n',
        encoding="utf-8",
    )
    written = batch_prompts_file(
        str(source), prompt_field="question", credentials=_credentials(emulator), poll_interval=0.05
    )
    assert written == str(tmp_path / "questions.csv.results.csv")
    with Path(written).open(newline="", encoding="utf-8") as handle:
        header, *cells = list(csv.reader(handle))
    assert header == ["id", "question", "topic", "custom_id", "max_tokens", *RESULT_COLUMNS]
    rows = [dict(zip(header, row, strict=True)) for row in cells]
    assert [(row["id"], row["topic"], row["custom_id"], row["max_tokens"]) for row in rows] == [
        ("7", "geo, asia", "jp", "16"),
        ("8", "", "request-1", ""),
        ("9", 'say "hi"', "fr", ""),
    ]
    assert [(row["status"], row["text"]) for row in rows] == [
        ("succeeded", "Tokyo"),
        ("errored", ""),
        ("succeeded", "Paris"),
    ]
    assert rows[1]["error"].startswith("invalid_request_error: ") and rows[0]["error"] == ""
    assert (rows[1]["input_tokens"], rows[1]["cost_usd"], rows[1]["attempts"]) == ("", "0", "1")
    assert int(rows[0]["input_tokens"]) > 0 and int(rows[0]["output_tokens"]) > 0
    assert Decimal(rows[0]["cost_usd"]) == _cost(rows[0]) > 0
    assert emulator.batches_created == 1


def test_prompts_file_parquet_in_parquet_out_keeps_column_types(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "prompts.parquet"
    seen = pa.array([1_700_000_000_000, None, 1_700_000_002_000], pa.timestamp("ms"))
    pq.write_table(
        pa.table(
            {
                "prompt": [
                    "Capital of Italy? One word.",
                    "[[emulate:errored:invalid_request_error]] broken",
                    "Capital of Germany? One word.",
                ],
                "score": pa.array([1, 2, 3], pa.int32()),
                "seen": seen,
                "max_tokens": pa.array([16, None, 16], pa.int64()),
            }
        ),
        source,
    )
    written = batch_prompts_file(
        str(source), credentials=_credentials(emulator), poll_interval=0.05
    )
    assert written == str(tmp_path / "prompts.parquet.results.parquet")
    out = pq.read_table(written)
    assert out.column_names == [
        "prompt",
        "score",
        "seen",
        "max_tokens",
        "custom_id",
        *RESULT_COLUMNS,
    ]
    assert out.schema.field("score").type == pa.int32()
    assert out.column("seen").equals(pq.read_table(source).column("seen"))
    rows = out.to_pylist()
    assert [(row["custom_id"], row["status"], row["text"]) for row in rows] == [
        ("request-0", "succeeded", "Rome"),
        ("request-1", "errored", None),
        ("request-2", "succeeded", "Berlin"),
    ]
    assert rows[1]["error"]["type"] == "invalid_request_error" and rows[0]["error"] is None
    assert rows[0]["input_tokens"] > 0 and rows[1]["input_tokens"] is None
    assert rows[0]["cost_usd"] == float(_cost(rows[0])) > 0


def test_a_column_named_like_a_result_column_is_refused_before_any_batch(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "prompts.csv"
    source.write_text("prompt,status,cost_usd\nCapital of France?,draft,1\n", encoding="utf-8")
    with pytest.raises(InvalidBatchError) as raised:
        batch_prompts_file(str(source), credentials=_credentials(emulator), poll_interval=0.05)
    assert raised.value.problems == [
        f"{source}:1: the column {name!r} has the name of a column the results add; rename it "
        "in the file"
        for name in ("status", "cost_usd")
    ]
    assert emulator.batches_created == 0
    assert not output_path(source).exists()


def test_bad_rows_are_all_reported_with_their_values_before_any_batch(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "prompts.parquet"
    pq.write_table(
        pa.table({"prompt": ["Fine", "Fine", None], "top_k": pa.array([1, -2, 1])}), source
    )
    with pytest.raises(InvalidBatchError) as raised:
        batch_prompts_file(str(source), credentials=_credentials(emulator), poll_interval=0.05)
    assert raised.value.problems == [
        f"{source}:row 2: top_k: Input should be greater than or equal to 0, got -2",
        f"{source}:row 3: missing or empty 'prompt'",
    ]
    assert emulator.batches_created == 0


def test_carry_writes_a_request_field_named_column_back_without_sending_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "prompts.csv"
    source.write_text(
        "prompt,system\nCapital of France? One word.,reviewed by Ann\n", encoding="utf-8"
    )
    with pytest.raises(InvalidBatchError, match="carry names 'sytem'"):
        batch_prompts_file(str(source), carry=["sytem"], credentials=_credentials(emulator))
    assert emulator.batches_created == 0
    written = batch_prompts_file(
        str(source), carry=["system"], credentials=_credentials(emulator), poll_interval=0.05
    )
    [row] = _read_csv(Path(written))
    assert (row["system"], row["text"]) == ("reviewed by Ann", "Paris")


def test_a_parquet_path_without_pyarrow_fails_naming_the_install_before_any_batch(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "prompts.parquet"
    pq.write_table(pa.table({"prompt": ["Capital of France?"]}), source)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as where it is not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(
        ConfigurationError, match=re.escape("pip install 'batchwork-prefect[parquet]'")
    ):
        batch_prompts_file(str(source), credentials=_credentials(emulator))
    assert emulator.batches_created == 0


CAPITAL_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "population": {"type": "integer"},
        "facts": {"type": "object", "properties": {"river": {"type": "string"}}},
    },
    "required": ["city", "population", "facts"],
}


def test_a_typed_csv_gets_one_column_per_property_and_keeps_text(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "typed.csv"
    source.write_text(
        "custom_id,prompt,note\nfr,Capital of France? One word.,a\ncut,x [[emulate:not_json]],b\n",
        encoding="utf-8",
    )
    written = batch_prompts_file(
        str(source),
        output=CAPITAL_SCHEMA,
        max_attempts=1,
        credentials=_credentials(emulator),
        poll_interval=0.05,
    )
    with Path(written).open(newline="", encoding="utf-8") as handle:
        header, *cells = list(csv.reader(handle))
    assert header == [
        "custom_id",
        "prompt",
        "note",
        *result_columns(typed_columns(CAPITAL_SCHEMA)),
    ]
    assert header[3:8] == ["status", "text", "city", "population", "facts"]
    fr, cut = (dict(zip(header, row, strict=True)) for row in cells)
    assert (fr["status"], fr["city"], fr["population"]) == ("succeeded", "Paris", "0")
    assert orjson.loads(fr["facts"]) == {"river": "Paris"}  # nested: its JSON text
    assert orjson.loads(fr["text"]) == {
        "city": "Paris",
        "population": 0,
        "facts": {"river": "Paris"},
    }
    # the answer that did not validate: errored, its columns empty, its raw text kept
    assert (cut["status"], cut["city"], cut["population"], cut["facts"]) == ("errored", "", "", "")
    assert cut["error"].startswith("invalid_output: ") and cut["text"] != ""
    assert cut["note"] == "b"


def test_a_typed_jsonl_with_a_non_object_schema_gets_one_parsed_column(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "typed.jsonl"
    source.write_bytes(b'{"custom_id": "fr", "prompt": "Capital of France? One word."}\n')
    schema = {"type": "array", "items": {"type": "string"}}
    written = batch_prompts_file(
        str(source), output=schema, credentials=_credentials(emulator), poll_interval=0.05
    )
    [row] = [orjson.loads(line) for line in Path(written).read_bytes().splitlines()]
    assert list(row)[:5] == ["custom_id", "prompt", "status", "text", "parsed"]
    assert row["parsed"] == ["Paris"] and row["text"] == '["Paris"]'


def test_a_schema_property_or_input_column_named_like_a_result_column_is_refused(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "typed.csv"
    source.write_text("prompt,city\nCapital of France?,x\n", encoding="utf-8")
    with pytest.raises(InvalidBatchError) as raised:
        batch_prompts_file(str(source), output=CAPITAL_SCHEMA, credentials=_credentials(emulator))
    assert raised.value.problems == [
        f"{source}:1: the column 'city' has the name of a column the results add; rename it "
        "in the file"
    ]
    schema = {"type": "object", "properties": {"status": {"type": "string"}}}
    with pytest.raises(ConfigurationError, match="output: the property 'status' would have"):
        batch_prompts_file(str(source), output=schema, credentials=_credentials(emulator))
    assert emulator.batches_created == 0


def test_a_jsonl_and_a_csv_of_one_name_keep_their_results_apart(
    emulator: Emulator, tmp_path: Path
) -> None:
    jsonl = tmp_path / "prompts.jsonl"
    jsonl.write_bytes(b'{"custom_id": "fr", "prompt": "Capital of France? One word."}\n')
    table = tmp_path / "prompts.csv"
    table.write_text("custom_id,prompt\njp,Capital of Japan? One word.\n", encoding="utf-8")
    written = [
        batch_prompts_file(str(source), credentials=_credentials(emulator), poll_interval=0.05)
        for source in (jsonl, table)
    ]
    assert written == [
        str(tmp_path / "prompts.jsonl.results.jsonl"),
        str(tmp_path / "prompts.csv.results.csv"),
    ]
    assert orjson.loads(Path(written[0]).read_bytes())["text"] == "Paris"
    assert _read_csv(Path(written[1]))[0]["text"] == "Tokyo"


def test_the_flow_reports_a_missing_file_before_any_batch(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such file"):
        batch_prompts_file(str(tmp_path / "missing.csv"), credentials="never-loaded")


def test_prompts_file_larger_than_prefects_parameter_limit(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "big.jsonl"
    prompt = "Summarise this paragraph. " * 30
    rows = [orjson.dumps({"custom_id": f"row-{i}", "prompt": prompt}) for i in range(800)]
    source.write_bytes(b"\n".join(rows))
    assert source.stat().st_size > 512 * 1024
    written = batch_prompts_file(
        str(source), credentials=_credentials(emulator), poll_interval=0.05
    )
    lines = Path(written).read_bytes().splitlines()
    assert len(lines) == 800
    assert orjson.loads(lines[-1])["custom_id"] == "row-799"
