"""The official SDKs send structured-output requests in batches, and their own parsing
helpers read the emulator's answers back into the pydantic model."""

from __future__ import annotations

import io
from collections.abc import Iterator

import anthropic
import openai
import orjson
import pydantic
import pytest
from anthropic.lib._parse._response import parse_text
from anthropic.lib._parse._transform import to_json_output_format
from openai.lib._parsing._completions import parse_chat_completion, type_to_response_format_param
from openai.types.chat import ChatCompletion

from batchwork_prefect.emulator import Emulator
from tests.emulator.openai_helpers import ENDPOINT, MODEL, jsonl
from tests.emulator.structured_helpers import PERSON, Person

KEY = "sk-test-0123456789abcdef"
PROMPT = "Capital of France? One word."


@pytest.fixture
def sdk_emu() -> Iterator[Emulator]:
    with Emulator(time_scale=0, processing_seconds=60, api_key=KEY) as emu:
        yield emu


def test_anthropic_batch_with_output_config(sdk_emu: Emulator) -> None:
    output_format = to_json_output_format(Person)  # what messages.parse sends for the model
    requests = [
        {
            "custom_id": custom_id,
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 512,
                "messages": [{"role": "user", "content": PROMPT + suffix}],
                "output_config": {"format": output_format},
            },
        }
        for custom_id, suffix in [("ok", ""), ("off", " [[emulate:off_schema]]")]
    ]
    with anthropic.Anthropic(api_key=KEY, base_url=sdk_emu.base_url, max_retries=0) as client:
        batch = client.messages.batches.create(requests=requests)
        sdk_emu.advance(60)
        lines = {line.custom_id: line for line in client.messages.batches.results(batch.id)}
    ok = lines["ok"].result
    assert ok.type == "succeeded"
    (block,) = ok.message.content
    assert block.type == "text"
    assert parse_text(block.text, Person) == Person.model_validate(PERSON)
    off = lines["off"].result
    assert off.type == "succeeded" and off.message.content[0].type == "text"
    with pytest.raises(pydantic.ValidationError):
        parse_text(off.message.content[0].text, Person)


def test_openai_batch_with_response_format(sdk_emu: Emulator) -> None:
    response_format = type_to_response_format_param(Person)  # what chat.completions.parse sends
    assert isinstance(response_format, dict)

    def entry(custom_id: str, suffix: str) -> dict[str, object]:
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": PROMPT + suffix}],
            "response_format": response_format,
        }
        return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}

    content = jsonl([entry("ok", ""), entry("bad", " [[emulate:not_json]]")])
    with openai.OpenAI(api_key=KEY, base_url=sdk_emu.openai_base_url, max_retries=0) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(content)), purpose="batch")
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h"
        )
        sdk_emu.advance(60)
        done = client.batches.retrieve(batch.id)
        assert done.status == "completed" and done.output_file_id is not None
        raw = client.files.content(done.output_file_id).text
    lines = {item["custom_id"]: item for item in map(orjson.loads, raw.splitlines())}
    assert set(lines) == {"ok", "bad"}

    def parsed(custom_id: str) -> Person | None:
        completion = ChatCompletion.model_validate(lines[custom_id]["response"]["body"])
        result = parse_chat_completion(
            response_format=Person, input_tools=openai.omit, chat_completion=completion
        )
        return result.choices[0].message.parsed

    assert parsed("ok") == Person.model_validate(PERSON)
    with pytest.raises(pydantic.ValidationError):
        parsed("bad")
