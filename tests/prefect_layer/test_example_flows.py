"""The deployable flows in `flows/`: the capital-cities example and the prompts-file step."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from batchwork_prefect import AnthropicCredentials
from batchwork_prefect.emulator import Emulator
from flows.capital_cities import capital_cities
from flows.prompts_file import batch_prompts_file, output_path, read_requests
from tests.support import API_KEY


def _credentials(emulator: Emulator) -> AnthropicCredentials:
    return AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)


def test_capital_cities(emulator: Emulator) -> None:
    answers = capital_cities(credentials=_credentials(emulator), poll_interval=0.05)
    assert answers == {"fr": "Paris", "jp": "Tokyo"}


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
    assert written == str(output_path(source))
    lines = [orjson.loads(line) for line in Path(written).read_bytes().splitlines()]
    assert [(line["custom_id"], line["status"]) for line in lines] == [
        ("fr", "succeeded"),
        ("request-1", "errored"),
        ("jp", "succeeded"),
    ]
    assert lines[0]["text"] == "Paris" and lines[2]["text"] == "Tokyo"
    assert lines[1]["error"]["type"] == "api_error"
    assert lines[0]["usage"]["input_tokens"] > 0


def test_prompts_file_csv(emulator: Emulator, tmp_path: Path) -> None:
    source = tmp_path / "questions.csv"
    source.write_text("custom_id,question\nfr,Capital of France? One word.\n", encoding="utf-8")
    written = batch_prompts_file(
        str(source),
        prompt_field="question",
        credentials=_credentials(emulator),
        poll_interval=0.05,
    )
    assert Path(written).name == "questions.results.jsonl"
    assert orjson.loads(Path(written).read_bytes())["text"] == "Paris"


def test_prompts_file_rejects_rows_without_a_prompt(tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_bytes(b'{"custom_id": "a", "text": "no prompt field"}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:1: no .prompt. field"):
        read_requests(source)


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
