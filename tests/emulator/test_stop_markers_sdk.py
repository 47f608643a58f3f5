"""The official SDKs read refused and token-limited result lines as their own types (strict
``model_validate`` and the SDKs' own result readers and parse helpers)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pydantic
import pytest
from anthropic.lib._parse._response import parse_text
from anthropic.lib._parse._transform import to_json_output_format
from anthropic.types.messages import MessageBatchIndividualResponse
from openai.lib._parsing._completions import parse_chat_completion, type_to_response_format_param
from openai.types.chat import ChatCompletion

from batchwork_prefect.emulator import Emulator
from tests.emulator.emulator_helpers import HEADERS
from tests.emulator.openai_helpers import ENDPOINT, MODEL, jsonl
from tests.emulator.structured_helpers import Person

KEY = "sk-test-0123456789abcdef"
REFUSAL = "I can't help with that."
MARKERS = {"refused": "[[emulate:refusal]]", "cut": "[[emulate:max_tokens]]"}


@pytest.fixture
def sdk_emu() -> Iterator[Emulator]:
    with Emulator(time_scale=0, processing_seconds=60, api_key=KEY) as emu:
        yield emu


def test_anthropic_sdk_reads_refusal_and_max_tokens(sdk_emu: Emulator) -> None:
    output_format = to_json_output_format(Person)
    requests = [
        {
            "custom_id": custom_id,
            "params": {
                "model": "claude-haiku-4-5",
                "max_tokens": 512,
                "messages": [{"role": "user", "content": "Who? " + marker}],
                "output_config": {"format": output_format},
            },
        }
        for custom_id, marker in MARKERS.items()
    ]
    with anthropic.Anthropic(api_key=KEY, base_url=sdk_emu.base_url, max_retries=0) as client:
        batch = client.messages.batches.create(requests=requests)
        sdk_emu.advance(60)
        read = {line.custom_id: line.result for line in client.messages.batches.results(batch.id)}
    with httpx.Client(base_url=sdk_emu.base_url, headers={**HEADERS, "x-api-key": KEY}) as http:
        raw = http.get(f"/v1/messages/batches/{batch.id}/results").content
    strict = {
        line.custom_id: line.result
        for line in map(MessageBatchIndividualResponse.model_validate_json, raw.splitlines())
    }
    for lines in (read, strict):
        refused, cut = lines["refused"], lines["cut"]
        assert refused.type == "succeeded" and cut.type == "succeeded"
        assert isinstance(refused.message, anthropic.types.Message)
        assert refused.message.stop_reason == "refusal"
        assert refused.message.stop_details is not None
        assert refused.message.stop_details.type == "refusal"
        (block,) = refused.message.content
        assert block.type == "text" and block.text == REFUSAL
        assert cut.message.stop_reason == "max_tokens"
        assert cut.message.stop_details is None
        assert cut.message.usage.output_tokens == 512
        (cut_block,) = cut.message.content
        assert cut_block.type == "text"
        with pytest.raises(pydantic.ValidationError):
            parse_text(cut_block.text, Person)


def _openai_lines(emu: Emulator, bodies: dict[str, dict[str, Any]]) -> dict[str, Any]:
    entries = [
        {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}
        for custom_id, body in bodies.items()
    ]
    with openai.OpenAI(api_key=KEY, base_url=emu.openai_base_url, max_retries=0) as client:
        uploaded = client.files.create(
            file=("in.jsonl", io.BytesIO(jsonl(entries))), purpose="batch"
        )
        batch = client.batches.create(
            input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h"
        )
        emu.advance(60)
        done = client.batches.retrieve(batch.id)
        assert done.status == "completed" and done.error_file_id is None
        assert done.output_file_id is not None
        raw = client.files.content(done.output_file_id).text
    return {item["custom_id"]: item for item in map(orjson.loads, raw.splitlines())}


def test_openai_sdk_reads_refusal_and_length(sdk_emu: Emulator) -> None:
    response_format = type_to_response_format_param(Person)
    bodies: dict[str, dict[str, Any]] = {
        f"{custom_id}-{kind}": {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Who? " + marker}],
            "max_completion_tokens": 9,
            **({"response_format": response_format} if kind == "structured" else {}),
        }
        for custom_id, marker in MARKERS.items()
        for kind in ("plain", "structured")
    }
    lines = _openai_lines(sdk_emu, bodies)
    completions = {
        custom_id: ChatCompletion.model_validate(line["response"]["body"])
        for custom_id, line in lines.items()
    }
    for kind in ("plain", "structured"):
        (refused,) = completions[f"refused-{kind}"].choices
        assert refused.finish_reason == "stop"
        assert refused.message.refusal == REFUSAL and refused.message.content is None
        (cut,) = completions[f"cut-{kind}"].choices
        assert cut.finish_reason == "length" and cut.message.refusal is None
        assert cut.message.content is not None and len(cut.message.content) == 4 * 9
        usage = completions[f"cut-{kind}"].usage
        assert usage is not None and usage.completion_tokens == 9

    parsed = parse_chat_completion(
        response_format=Person,
        input_tools=openai.omit,
        chat_completion=completions["refused-structured"],
    )
    assert parsed.choices[0].message.parsed is None
    assert parsed.choices[0].message.refusal == REFUSAL
    with pytest.raises(openai.LengthFinishReasonError):
        parse_chat_completion(
            response_format=Person,
            input_tools=openai.omit,
            chat_completion=completions["cut-structured"],
        )
