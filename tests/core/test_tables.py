"""Tables of prompts read from JSONL, CSV and Parquet files: requests, carried columns, and
every problem reported at once with where it is and the value at fault."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batchwork_prefect import ConfigurationError, InvalidBatchError
from batchwork_prefect.core.tables import Table, read_table

REPO_ROOT = Path(__file__).resolve().parents[2]


def _problems(path: Path, *args: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(InvalidBatchError) as raised:
        read_table(path, *args, **kwargs)
    return raised.value.problems


def _csv(tmp_path: Path, text: str, name: str = "prompts.csv") -> Path:
    source = tmp_path / name
    source.write_text(text, encoding="utf-8")
    return source


def test_the_shipped_example_input_reads() -> None:
    table = read_table(REPO_ROOT / "flows" / "data" / "prompts.jsonl")
    assert table.custom_ids == ["fr", "it", "de", "haiku"]


def test_csv_columns_other_than_request_fields_are_carried_not_sent(tmp_path: Path) -> None:
    source = _csv(
        tmp_path,
        "id,question,max_tokens,topic,system\n7,Capital of France?,10,geo,Be brief.\n"
        "8,Capital of Japan?,,geo,\n",
    )
    table = read_table(source, "question")
    assert table.columns == ("id", "question", "max_tokens", "topic", "system")
    first, second = table.requests
    assert first.model_dump(exclude_none=True, exclude_defaults=True) == {
        "prompt": "Capital of France?",
        "max_tokens": 10,
        "system": "Be brief.",
    }
    assert second.model_dump(exclude_none=True, exclude_defaults=True) == {
        "prompt": "Capital of Japan?"
    }
    assert table.rows[0] == {
        "id": "7",
        "question": "Capital of France?",
        "max_tokens": "10",
        "topic": "geo",
        "system": "Be brief.",
    }
    assert table.custom_ids == ["request-0", "request-1"]


def test_jsonl_keys_other_than_request_fields_are_carried_not_sent(tmp_path: Path) -> None:
    source = tmp_path / "prompts.jsonl"
    source.write_bytes(
        b'{"prompt": "Hi", "stop_sequences": ["END"], "meta": {"page": 3}, "tags": [1, 2]}\n'
        b'{"prompt": "Bye", "score": 0.5}\n'
    )
    table = read_table(source)
    assert table.columns == ("prompt", "stop_sequences", "meta", "tags", "score")
    assert table.requests[0].stop_sequences == ["END"]
    assert table.requests[0].params == {}
    assert table.rows[1] == {"prompt": "Bye", "score": 0.5}


def test_jsonl_gives_typed_request_fields_and_refuses_messages_unless_carried(
    tmp_path: Path,
) -> None:
    source = tmp_path / "prompts.jsonl"
    source.write_bytes(
        b'{"prompt": "Hi", "tools": [{"name": "t", "input_schema": {"type": "object"}}], '
        b'"tool_choice": {"type": "auto"}, "params": {"metadata": {"user_id": "u"}}}\n'
        b'{"prompt": "Yo", "messages": [{"role": "user", "content": "x"}]}\n'
    )
    assert _problems(source) == [
        f"{source}:2: a 'messages' column: a row's request is its 'prompt', and cannot have "
        "messages too; carry it unchanged with carry=['messages'], or send message lists "
        "with run_batch"
    ]
    first, second = read_table(source, carry=["messages"]).requests
    assert first.tools == [{"name": "t", "input_schema": {"type": "object"}}]
    assert first.tool_choice == {"type": "auto"}
    assert first.params == {"metadata": {"user_id": "u"}}
    assert second.messages is None and second.prompt == "Yo"


def test_carry_keeps_a_column_named_like_a_request_field_from_being_sent(tmp_path: Path) -> None:
    source = _csv(tmp_path, "prompt,system\nHi,a note for people\n")
    [request] = read_table(source, carry=["system"]).requests
    assert request.system is None
    assert read_table(source).requests[0].system == "a note for people"


def test_a_request_field_a_csv_cell_cannot_hold_is_refused_unless_carried(
    tmp_path: Path,
) -> None:
    source = _csv(tmp_path, 'prompt,stop_sequences,tools\nHi,"[""END""]",x\n')
    assert _problems(source) == [
        f"{source}:1: the request field {name!r} cannot be read from a CSV cell; give it in "
        f"defaults=, use a .jsonl file, or carry the column unchanged with carry=[{name!r}]"
        for name in ("stop_sequences", "tools")
    ]
    table = read_table(source, carry=["stop_sequences", "tools"])
    assert table.requests[0].stop_sequences is None
    assert table.rows[0]["stop_sequences"] == '["END"]'


def test_a_prompt_column_beside_another_prompt_field_is_refused_unless_carried(
    tmp_path: Path,
) -> None:
    source = _csv(tmp_path, "question,prompt\nCapital?,a template\n")
    assert _problems(source, "question") == [
        f"{source}:1: a 'prompt' column, while the prompts are in 'question'; carry it "
        "unchanged with carry=['prompt'], or send it as the prompt with prompt_field='prompt'"
    ]
    [request] = read_table(source, "question", carry=["prompt"]).requests
    assert request.prompt == "Capital?"
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_bytes(b'{"question": "Capital?"}\n{"question": "Why?", "prompt": "x"}\n')
    [problem] = _problems(jsonl, "question")
    assert problem.startswith(f"{jsonl}:2: a 'prompt' column, while the prompts are in")


def test_carry_naming_no_column_the_prompt_or_custom_id_is_refused(tmp_path: Path) -> None:
    source = _csv(tmp_path, "custom_id,prompt\na,Hi\n")
    assert _problems(source, carry=["sytem", "prompt", "custom_id"]) == [
        f"{source}:1: carry names 'sytem', which is not a column of the file; its columns "
        "are ['custom_id', 'prompt']",
        f"{source}:1: carry names 'prompt', the prompt column; it is sent",
        f"{source}:1: carry names 'custom_id', a column the results write (the id each row "
        "is sent under); rename the input column to carry it",
    ]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_bytes(b'{"prompt": "Hi"}\n{"prompt": "Yo", "note": 1}\n')
    assert _problems(jsonl, carry=["nope"]) == [
        f"{jsonl}: carry names 'nope', which is not a column of the file; its columns are "
        "['prompt', 'note']"
    ]


def test_a_column_named_like_a_result_column_is_refused_naming_it(tmp_path: Path) -> None:
    source = _csv(tmp_path, "prompt,status,notes\nHi,draft,x\n")
    assert _problems(source, reserved=["status", "text"]) == [
        f"{source}:1: the column 'status' has the name of a column the results add; rename "
        "it in the file"
    ]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_bytes(b'{"prompt": "Hi"}\n{"prompt": "Yo", "text": "x"}\n')
    assert _problems(jsonl, reserved=["status", "text"]) == [
        f"{jsonl}:2: the column 'text' has the name of a column the results add; rename it "
        "in the file"
    ]


def test_csv_row_problems_are_all_reported_with_their_file_lines_and_values(
    tmp_path: Path,
) -> None:
    # Line 3's quoted value spans lines 3-4 and line 5 is blank, so records start on lines
    # 1 (header), 2, 3, 6, 7 and 8: numbers as an editor shows them.
    source = _csv(
        tmp_path,
        "custom_id,prompt,max_tokens\n"
        "a,Fine,10\n"
        'b,"Two\nlines",10\n'
        "\n"
        "c,Too,many,columns\n"
        "d,,10\n"
        "e,Bad value,ten\n"
        "f,Fine,0\n",
    )
    assert _problems(source) == [
        f"{source}:6: 4 columns, the header has 3 (quote values that contain commas)",
        f"{source}:7: missing or empty 'prompt'",
        f"{source}:8: max_tokens: Input should be a valid integer, unable to parse string as "
        "an integer, got 'ten'",
        f"{source}:9: max_tokens: Input should be greater than or equal to 1, got '0'",
    ]


def test_a_long_bad_value_is_shown_cut(tmp_path: Path) -> None:
    source = _csv(tmp_path, f"prompt,temperature\nHi,{'x' * 100}\n")
    [problem] = _problems(source)
    assert problem.endswith(f"got '{'x' * 56}...")


def test_an_unclosed_quote_in_a_csv_is_refused_naming_its_line(tmp_path: Path) -> None:
    # Read leniently, line 3's open quote would make one prompt of lines 3-5, and the rows
    # b and c would never be sent nor appear in the results.
    source = _csv(tmp_path, 'custom_id,prompt\nfirst,Fine\na,"Hello\nb,World\nc,Third\n')
    assert _problems(source) == [
        f"{source}:3: a quoted value opens here and is never closed, so it would swallow "
        'every line after it; close the quote, and double each quote inside a quoted value ("")'
    ]


def test_text_after_a_closing_quote_is_refused_and_later_rows_still_checked(
    tmp_path: Path,
) -> None:
    source = _csv(tmp_path, 'custom_id,prompt\na,"Quoted"tail\nb,"Open\nc,"Closed"\nd,,\n')
    assert _problems(source) == [
        f"{source}:2: text after a closing quote; quote the whole value and double each quote "
        'inside it ("")',
        f"{source}:3: text after a closing quote; quote the whole value and double each quote "
        'inside it (""), or close the quote left open (the record runs to line 4)',
        f"{source}:5: 3 columns, the header has 2 (quote values that contain commas)",
    ]


def test_a_nul_character_in_a_csv_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "nul.csv"
    source.write_bytes(b"custom_id,prompt\na,Fine\nb,Bro\x00ken\n")
    assert _problems(source) == [
        f"{source}:3: a NUL character; the file is binary or not UTF-8 (UTF-16?): save it "
        "as UTF-8 text"
    ]


def test_quoted_newlines_and_doubled_quotes_read_and_a_bare_quote_is_kept(
    tmp_path: Path,
) -> None:
    source = _csv(
        tmp_path,
        'custom_id,prompt\na,"Two\nlines, one comma"\nb,"Say ""hi"""\nc,He said "hi" twice\n'
        "d,Last\n",
    )
    assert [(r.custom_id, r.prompt) for r in read_table(source).requests] == [
        ("a", "Two\nlines, one comma"),
        ("b", 'Say "hi"'),
        ("c", 'He said "hi" twice'),
        ("d", "Last"),
    ]


def test_csv_header_problems_name_line_1(tmp_path: Path) -> None:
    source = _csv(tmp_path, "custom_id,question,notes\nfr,Capital?,x\n")
    [problem] = _problems(source)
    assert problem.startswith(f"{source}:1: no 'prompt' column in ['custom_id', 'question'")
    assert problem.endswith("name the prompt column with prompt_field=")
    repeated = _csv(tmp_path, "prompt,a,a\nHi,1,2\n", "repeated.csv")
    [problem] = _problems(repeated)
    assert problem.startswith(f"{repeated}:1: the header row needs unique, non-empty column")


def test_csv_with_a_byte_order_mark_and_the_prompt_in_another_column(tmp_path: Path) -> None:
    source = tmp_path / "excel.csv"
    source.write_bytes("\ufeffcustom_id,question\nfr,Capital?\n".encode())
    [request] = read_table(source, prompt_field="question").requests
    assert (request.custom_id, request.prompt) == ("fr", "Capital?")


def test_jsonl_row_problems_are_all_reported_with_their_lines_and_values(
    tmp_path: Path,
) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_bytes(
        b'{"custom_id": "a", "text_in": "no prompt field"}\n'
        b'["not", "an", "object"]\n'
        b"\n"
        b"{not json\n"
        b'{"custom_id": "b", "prompt": "Fine", "max_tokens": 0}\n'
        b'{"custom_id": "c", "prompt": "Fine"}\n'
        b'{"custom_id": "c", "prompt": "Again"}\n'
    )
    problems = _problems(source)
    assert [problem.split(": ", 1)[0] for problem in problems] == [
        f"{source}:{line}" for line in (1, 2, 4, 5, 7)
    ]
    assert problems[0] == f"{source}:1: missing or empty 'prompt'"
    assert problems[1] == (
        f'{source}:2: expected a JSON object such as {{"prompt": "..."}}, got list'
    )
    assert problems[2].startswith(f"{source}:4: not valid JSON (")
    assert problems[3] == (
        f"{source}:5: max_tokens: Input should be greater than or equal to 1, got 0"
    )
    assert problems[4] == (
        f"{source}:7: custom_id 'c' repeats line 6; every custom_id must be unique"
    )


def test_a_bad_value_names_the_prompt_field_as_the_file_does(tmp_path: Path) -> None:
    source = tmp_path / "typed.jsonl"
    source.write_bytes(b'{"question": 42}\n')
    assert _problems(source, prompt_field="question") == [
        f"{source}:1: question: Input should be a valid string, got 42"
    ]


def test_an_empty_file_has_no_prompts(tmp_path: Path) -> None:
    source = _csv(tmp_path, "custom_id,prompt\n", "empty.csv")
    assert _problems(source) == [f"{source}: no prompts; add one row per prompt"]


def test_a_missing_file_or_another_kind_of_file_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(f"{tmp_path}/nope.jsonl: no such file")):
        read_table(tmp_path / "nope.jsonl")
    other = tmp_path / "prompts.txt"
    other.write_text("Capital of France?\n", encoding="utf-8")
    with pytest.raises(
        ConfigurationError, match=r"prompts\.txt: not a prompts file; give a \.jsonl"
    ):
        read_table(other)


def test_a_csv_value_past_the_csv_field_limit_points_to_jsonl(tmp_path: Path) -> None:
    source = _csv(tmp_path, f"custom_id,prompt\na,{'x' * 200_000}\nb,Fine\n", "long.csv")
    [problem] = _problems(source)
    assert problem.startswith(f"{source}:2: field larger than field limit")
    assert problem.endswith("; put prompts this long in a .jsonl file")


def _parquet(tmp_path: Path, columns: dict[str, Any], name: str = "prompts.parquet") -> Path:
    source = tmp_path / name
    pq.write_table(pa.table(columns), source)
    return source


def test_parquet_rows_read_typed_and_carried_columns_stay_in_the_table(tmp_path: Path) -> None:
    source = _parquet(
        tmp_path,
        {
            "prompt": ["Hi", "Bye"],
            "max_tokens": pa.array([5, None], pa.int64()),
            "stop_sequences": [["END"], None],
            "seen": pa.array([1_700_000_000_000, 1_700_000_001_000], pa.timestamp("ms")),
        },
    )
    table = read_table(source)
    assert table.kind == "parquet" and table.rows == ()
    assert table.columns == ("prompt", "max_tokens", "stop_sequences", "seen")
    assert [(r.prompt, r.max_tokens, r.stop_sequences) for r in table.requests] == [
        ("Hi", 5, ["END"]),
        ("Bye", None, None),
    ]
    assert table.arrow.schema.field("seen").type == pa.timestamp("ms")


def test_parquet_problems_name_their_rows_and_values(tmp_path: Path) -> None:
    source = _parquet(
        tmp_path,
        {
            "custom_id": ["a", "b", "a", "d"],
            "prompt": ["Fine", None, "Again", "Fine"],
            "temperature": pa.array([0.5, 0.5, 0.5, -1.0]),
        },
    )
    assert _problems(source) == [
        f"{source}:row 2: missing or empty 'prompt'",
        f"{source}:row 3: custom_id 'a' repeats row 1; every custom_id must be unique",
        f"{source}:row 4: temperature: Input should be greater than or equal to 0, got -1.0",
    ]
    headless = _parquet(tmp_path, {"question": ["Hi"]}, "q.parquet")
    assert _problems(headless) == [
        f"{headless}: no 'prompt' column in ['question']; name the prompt column with prompt_field="
    ]


def test_a_file_that_is_not_parquet_is_reported(tmp_path: Path) -> None:
    source = tmp_path / "broken.parquet"
    source.write_bytes(b"prompt\nHi\n")
    [problem] = _problems(source)
    assert problem.startswith(f"{source}: not a readable Parquet file (")


def test_parquet_without_pyarrow_names_the_install_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _parquet(tmp_path, {"prompt": ["Hi"]})
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(ConfigurationError) as raised:
        read_table(source)
    assert str(raised.value) == (
        "reading and writing .parquet files needs pyarrow: pip install 'batchwork-prefect[parquet]'"
    )
    with pytest.raises(ConfigurationError, match=re.escape("batchwork-prefect[parquet]")):
        read_table(tmp_path / "missing.parquet")  # before the file is looked for


def test_a_table_knows_the_ids_its_rows_are_sent_under(tmp_path: Path) -> None:
    source = _csv(tmp_path, "custom_id,prompt\nfr,Hi\n,Yo\n")
    table = read_table(source)
    assert isinstance(table, Table)
    assert table.custom_ids == ["fr", "request-1"]


def test_a_prompt_column_named_like_a_result_column_is_refused_too(tmp_path: Path) -> None:
    # its answer would be written over it: the prompt lost, two "text" columns
    source = _csv(tmp_path, "text,notes\nHi,x\n")
    assert _problems(source, "text", reserved=["status", "text"]) == [
        f"{source}:1: the column 'text' has the name of a column the results add; rename "
        "it in the file"
    ]
