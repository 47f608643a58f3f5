"""The deployable flows in `flows/`: the capital-cities example and the prompts-file step."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from prefect.utilities.callables import parameter_schema

from batchwork_prefect import (
    AnthropicCredentials,
    ConfigurationError,
    IncompleteResultsError,
    InvalidBatchError,
)
from batchwork_prefect.emulator import Emulator
from flows.capital_cities import capital_cities, saved_credentials
from flows.prompts_file import batch_prompts_file, output_path, read_requests
from tests.support import API_KEY

REPO_ROOT = Path(__file__).resolve().parents[2]


def _credentials(emulator: Emulator) -> AnthropicCredentials:
    return AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)


def _problems(path: Path, **kwargs: Any) -> list[str]:
    with pytest.raises(InvalidBatchError) as raised:
        read_requests(path, **kwargs)
    return raised.value.problems


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


def test_prompts_file_jsonl_writes_one_line_per_request_in_order(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "prompts.jsonl"
    source.write_bytes(
        b'{"custom_id": "fr", "prompt": "Capital of France? One word."}\n\n'
        b'{"prompt": "[[emulate:errored]] broken", "max_tokens": 5}\n'
        b'{"custom_id": "jp", "prompt": "Capital of Japan? One word."}\n'
    )
    written = batch_prompts_file(
        str(source), credentials=_credentials(emulator), poll_interval=0.05
    )
    assert written == str(output_path(source)) == str(tmp_path / "prompts.jsonl.results.jsonl")
    lines = [orjson.loads(line) for line in Path(written).read_bytes().splitlines()]
    assert [(line["custom_id"], line["status"]) for line in lines] == [
        ("fr", "succeeded"),
        ("request-1", "errored"),
        ("jp", "succeeded"),
    ]
    assert lines[0]["text"] == "Paris" and lines[2]["text"] == "Tokyo"
    assert lines[1]["error"]["type"] == "api_error"
    assert lines[0]["usage"]["input_tokens"] > 0


def test_prompts_file_retries_passing_failures_and_writes_its_table_before_failing(
    emulator: Emulator, tmp_path: Path
) -> None:
    source = tmp_path / "prompts.jsonl"
    source.write_bytes(
        b'{"custom_id": "busy", "prompt": "[[emulate:errored:overloaded_error:x1]] a"}\n'
        b'{"custom_id": "bad", "prompt": "[[emulate:errored:invalid_request_error]] b"}\n'
    )
    with pytest.raises(IncompleteResultsError, match="1 of 2 requests are left failing"):
        batch_prompts_file(
            str(source), credentials=_credentials(emulator), poll_interval=0.05, allow_failed=0
        )
    lines = [orjson.loads(line) for line in output_path(source).read_bytes().splitlines()]
    assert [(line["custom_id"], line["status"], line["attempts"]) for line in lines] == [
        ("busy", "succeeded", 2),
        ("bad", "errored", 1),
    ]
    assert emulator.batches_created == 2


def test_prompts_file_csv(emulator: Emulator, tmp_path: Path) -> None:
    source = tmp_path / "questions.csv"
    source.write_text("custom_id,question\nfr,Capital of France? One word.\n", encoding="utf-8")
    written = batch_prompts_file(
        str(source),
        prompt_field="question",
        credentials=_credentials(emulator),
        poll_interval=0.05,
    )
    assert Path(written).name == "questions.csv.results.jsonl"
    assert orjson.loads(Path(written).read_bytes())["text"] == "Paris"


def test_a_jsonl_and_a_csv_of_one_name_keep_their_results_apart(
    emulator: Emulator, tmp_path: Path
) -> None:
    jsonl = tmp_path / "prompts.jsonl"
    jsonl.write_bytes(b'{"custom_id": "fr", "prompt": "Capital of France? One word."}\n')
    csv = tmp_path / "prompts.csv"
    csv.write_text("custom_id,prompt\njp,Capital of Japan? One word.\n", encoding="utf-8")
    written = [
        batch_prompts_file(str(source), credentials=_credentials(emulator), poll_interval=0.05)
        for source in (jsonl, csv)
    ]
    assert written == [
        str(tmp_path / "prompts.jsonl.results.jsonl"),
        str(tmp_path / "prompts.csv.results.jsonl"),
    ]
    assert [orjson.loads(Path(path).read_bytes())["text"] for path in written] == [
        "Paris",
        "Tokyo",
    ]


def test_the_shipped_example_input_reads() -> None:
    requests = read_requests(REPO_ROOT / "flows" / "data" / "prompts.jsonl")
    assert [request.custom_id for request in requests] == ["fr", "it", "de", "haiku"]


def test_csv_row_problems_are_all_reported_with_their_file_lines(tmp_path: Path) -> None:
    source = tmp_path / "bad.csv"
    # Line 3's quoted value spans lines 3-4 and line 5 is blank, so records start on lines
    # 1 (header), 2, 3, 6, 7 and 8: numbers as an editor shows them.
    source.write_text(
        "custom_id,prompt,max_tokens\n"
        "a,Fine,10\n"
        'b,"Two\nlines",10\n'
        "\n"
        "c,Too,many,columns\n"
        "d,,10\n"
        "e,Bad value,lots\n",
        encoding="utf-8",
    )
    problems = _problems(source)
    assert problems == [
        f"{source}:6: 4 columns, the header has 3 (quote values that contain commas)",
        f"{source}:7: missing or empty 'prompt'",
        f"{source}:8: max_tokens: Input should be a valid integer, unable to parse string as an "
        "integer",
    ]


def test_an_unclosed_quote_in_a_csv_is_refused_naming_its_line(tmp_path: Path) -> None:
    # Read leniently, line 3's open quote would make one prompt of lines 3-5, and the rows
    # b and c would never be sent nor appear in the results.
    source = tmp_path / "open.csv"
    source.write_text(
        'custom_id,prompt\nfirst,Fine\na,"Hello\nb,World\nc,Third\n', encoding="utf-8"
    )
    assert _problems(source) == [
        f"{source}:3: a quoted value opens here and is never closed, so it would swallow "
        'every line after it; close the quote, and double each quote inside a quoted value ("")'
    ]


def test_text_after_a_closing_quote_is_refused_and_later_rows_still_checked(
    tmp_path: Path,
) -> None:
    source = tmp_path / "quotes.csv"
    source.write_text(
        'custom_id,prompt\na,"Quoted"tail\nb,"Open\nc,"Closed"\nd,,\n',
        encoding="utf-8",
    )
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
    source = tmp_path / "fine.csv"
    source.write_text(
        "custom_id,prompt\n"
        'a,"Two\nlines, one comma"\n'
        'b,"Say ""hi"""\n'
        'c,He said "hi" twice\n'
        "d,Last\n",
        encoding="utf-8",
    )
    assert [(request.custom_id, request.prompt) for request in read_requests(source)] == [
        ("a", "Two\nlines, one comma"),
        ("b", 'Say "hi"'),
        ("c", 'He said "hi" twice'),
        ("d", "Last"),
    ]


def test_csv_header_problems_name_line_1(tmp_path: Path) -> None:
    source = tmp_path / "questions.csv"
    source.write_text("custom_id,question,notes\nfr,Capital?,x\n", encoding="utf-8")
    problems = _problems(source)
    assert len(problems) == 2
    assert problems[0].startswith(f"{source}:1: no 'prompt' column in the header")
    assert "prompt_field=" in problems[0]
    assert problems[1].startswith(f"{source}:1: unknown column(s) 'question', 'notes'")


def test_csv_with_a_byte_order_mark_and_the_prompt_in_another_column(tmp_path: Path) -> None:
    source = tmp_path / "excel.csv"
    source.write_bytes("\ufeffcustom_id,question\nfr,Capital?\n".encode())
    [request] = read_requests(source, prompt_field="question")
    assert (request.custom_id, request.prompt) == ("fr", "Capital?")


def test_jsonl_row_problems_are_all_reported_with_their_lines(tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_bytes(
        b'{"custom_id": "a", "text": "no prompt field"}\n'
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
    assert problems[3] == f"{source}:5: max_tokens: Input should be greater than or equal to 1"
    assert problems[4] == (
        f"{source}:7: custom_id 'c' repeats line 6; every custom_id must be unique"
    )


def test_a_bad_value_names_the_prompt_field_as_the_file_does(tmp_path: Path) -> None:
    source = tmp_path / "typed.jsonl"
    source.write_bytes(b'{"question": 42}\n')
    assert _problems(source, prompt_field="question") == [
        f"{source}:1: question: Input should be a valid string"
    ]


def test_an_empty_file_has_no_prompts(tmp_path: Path) -> None:
    source = tmp_path / "empty.csv"
    source.write_text("custom_id,prompt\n", encoding="utf-8")
    assert _problems(source) == [f"{source}: no prompts; add one row per prompt"]


def test_a_missing_file_or_another_kind_of_file_is_a_configuration_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(f"{tmp_path}/nope.jsonl: no such file")):
        read_requests(tmp_path / "nope.jsonl")
    other = tmp_path / "prompts.txt"
    other.write_text("Capital of France?\n", encoding="utf-8")
    with pytest.raises(
        ConfigurationError, match=r"prompts\.txt: not a prompts file; give a \.jsonl"
    ):
        read_requests(other)


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


def test_a_csv_value_past_the_csv_field_limit_points_to_jsonl(tmp_path: Path) -> None:
    source = tmp_path / "long.csv"
    source.write_text(f"custom_id,prompt\na,{'x' * 200_000}\nb,Fine\n", encoding="utf-8")
    [problem] = _problems(source)
    assert problem.startswith(f"{source}:2: field larger than field limit")
    assert problem.endswith("; put prompts this long in a .jsonl file")
