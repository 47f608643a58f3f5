"""The official ``google-genai`` SDK, unchanged, drives every Gemini route of the emulator:
batches (inline and from an uploaded file), get, list in pages, cancel, delete, the Files
API's resumable upload, get, download and delete, and a refused key."""

from __future__ import annotations

import io
from collections.abc import Iterator

import orjson
import pydantic
import pytest
from google import genai
from google.genai import errors, types

from batchwork_prefect.emulator import Emulator
from tests.emulator.gemini_helpers import KEY, MODEL, base_url

FRANCE = "Capital of France? One word."


def _request(text: str, key: str) -> types.InlinedRequest:
    return types.InlinedRequest(
        contents=[types.Content(role="user", parts=[types.Part(text=text)])],
        metadata={"key": key},
    )


@pytest.fixture
def sdk_emu() -> Iterator[Emulator]:
    with Emulator(time_scale=0, processing_seconds=60, api_key=KEY) as emu:
        yield emu


@pytest.fixture
def sdk(sdk_emu: Emulator) -> genai.Client:
    return genai.Client(api_key=KEY, http_options={"base_url": base_url(sdk_emu)})


def test_inline_batch_runs_to_inline_responses(sdk: genai.Client, sdk_emu: Emulator) -> None:
    job = sdk.batches.create(
        model=MODEL,
        src=[_request(FRANCE, "q0"), _request("x [[emulate:errored]]", "q1")],
        config={"display_name": "inline-job"},
    )
    assert job.name is not None and job.name.startswith("batches/")
    assert (job.state, job.display_name, job.model) == (
        types.JobState.JOB_STATE_PENDING,
        "inline-job",
        f"models/{MODEL}",
    )
    assert job.dest is None
    sdk_emu.advance(60)
    done = sdk.batches.get(name=job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    assert done.create_time is not None and done.end_time is not None
    assert done.dest is not None and done.dest.inlined_responses is not None
    first, second = done.dest.inlined_responses
    assert first.metadata == {"key": "q0"} and second.metadata == {"key": "q1"}
    assert first.response is not None and first.response.text == "Paris"
    candidate = first.response.candidates[0]  # type: ignore[index]
    assert candidate.finish_reason == types.FinishReason.STOP
    usage = first.response.usage_metadata
    assert usage is not None and usage.candidates_token_count == 2
    assert usage.total_token_count == usage.prompt_token_count + 2  # type: ignore[operator]
    assert second.response is None
    assert second.error is not None and second.error.code == 13


def test_file_batch_results_download(sdk: genai.Client, sdk_emu: Emulator) -> None:
    lines = [
        {"key": "a", "request": {"contents": [{"parts": [{"text": FRANCE}], "role": "user"}]}},
        {
            "key": "b",
            "request": {
                "contents": [{"parts": [{"text": "Hi [[emulate:errored:rate_limit_error]]"}]}]
            },
        },
    ]
    content = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    uploaded = sdk.files.upload(
        file=io.BytesIO(content),
        config={"mime_type": "application/jsonl", "display_name": "requests"},
    )
    assert uploaded.name is not None and uploaded.name.startswith("files/")
    assert (uploaded.size_bytes, uploaded.mime_type, uploaded.display_name) == (
        len(content),
        "application/jsonl",
        "requests",
    )
    assert uploaded.source == types.FileSource.UPLOADED
    assert [listed.name for listed in sdk.files.list(config={"page_size": 1})] == [uploaded.name]
    fetched = sdk.files.get(name=uploaded.name)
    assert fetched.name == uploaded.name and fetched.size_bytes == len(content)
    job = sdk.batches.create(model=MODEL, src=uploaded.name)
    sdk_emu.advance(60)
    done = sdk.batches.get(name=job.name)  # type: ignore[arg-type]
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    assert done.dest is not None and done.dest.file_name is not None
    results = sdk.files.get(name=done.dest.file_name)
    assert results.source == types.FileSource.GENERATED and results.download_uri
    raw = sdk.files.download(file=done.dest.file_name)
    first, second = (orjson.loads(line) for line in raw.splitlines())
    assert first["key"] == "a"
    parsed = types.GenerateContentResponse.model_validate(first["response"])
    assert parsed.text == "Paris"
    assert second == {"key": "b", "error": second["error"]} and second["error"]["code"] == 8


def test_list_walks_pages(sdk: genai.Client) -> None:
    names = [
        sdk.batches.create(model=MODEL, src=[_request(f"q{n}", f"k{n}")]).name for n in range(3)
    ]
    pager = sdk.batches.list(config={"page_size": 2})
    assert len(pager.page) == 2
    assert [job.name for job in pager] == list(reversed(names))


def test_cancel_then_cancelled(sdk: genai.Client, sdk_emu: Emulator) -> None:
    job = sdk.batches.create(model=MODEL, src=[_request(FRANCE, "c0")])
    sdk.batches.cancel(name=job.name)  # type: ignore[arg-type]
    cancelled = sdk.batches.get(name=job.name)  # type: ignore[arg-type]
    assert cancelled.state == types.JobState.JOB_STATE_CANCELLED
    assert cancelled.dest is not None and cancelled.dest.inlined_responses is not None
    (only,) = cancelled.dest.inlined_responses
    assert only.error is not None and only.error.code == 1
    with pytest.raises(errors.ClientError) as refused:
        sdk.batches.cancel(name=job.name)  # type: ignore[arg-type]
    assert refused.value.code == 400 and refused.value.status == "FAILED_PRECONDITION"


def test_delete_batch_and_file(sdk: genai.Client) -> None:
    job = sdk.batches.create(model=MODEL, src=[_request(FRANCE, "d0")])
    sdk.batches.delete(name=job.name)  # type: ignore[arg-type]
    with pytest.raises(errors.ClientError) as gone:
        sdk.batches.get(name=job.name)  # type: ignore[arg-type]
    assert (gone.value.code, gone.value.status) == (404, "NOT_FOUND")
    uploaded = sdk.files.upload(file=io.BytesIO(b"{}\n"), config={"mime_type": "application/jsonl"})
    sdk.files.delete(name=uploaded.name)  # type: ignore[arg-type]
    with pytest.raises(errors.ClientError) as missing:
        sdk.files.get(name=uploaded.name)  # type: ignore[arg-type]
    assert (missing.value.code, missing.value.status) == (403, "PERMISSION_DENIED")


def test_wrong_key_refused(sdk_emu: Emulator) -> None:
    wrong = genai.Client(api_key="not-the-key", http_options={"base_url": base_url(sdk_emu)})
    with pytest.raises(errors.ClientError) as refused:
        wrong.batches.list()
    assert (refused.value.code, refused.value.status) == (400, "INVALID_ARGUMENT")
    assert refused.value.message == "API key not valid. Please pass a valid API key."
    assert sdk_emu.batches_created == 0


def test_unknown_model_refused(sdk: genai.Client) -> None:
    with pytest.raises(errors.ClientError) as refused:
        sdk.batches.create(model="not-a-model", src=[_request(FRANCE, "m0")])
    assert (refused.value.code, refused.value.status) == (404, "NOT_FOUND")


class City(pydantic.BaseModel):
    city: str
    population: int


def test_generation_config_reaches_the_answers(sdk: genai.Client, sdk_emu: Emulator) -> None:
    def request(text: str, **config: object) -> types.InlinedRequest:
        return types.InlinedRequest(
            contents=text,
            config=types.GenerateContentConfig(**config),  # type: ignore[arg-type]
        )

    job = sdk.batches.create(
        model=MODEL,
        src=[
            request(
                "Name a city",
                response_mime_type="application/json",
                response_schema=City,
                system_instruction="Be brief",
            ),
            request(
                "Name a city",
                response_mime_type="application/json",
                response_json_schema=City.model_json_schema(),
            ),
            request("Name a city [[emulate:max_tokens]]", max_output_tokens=4),
            request("Name a city [[emulate:refusal]]"),
        ],
    )
    sdk_emu.advance(60)
    done = sdk.batches.get(name=job.name)  # type: ignore[arg-type]
    assert done.dest is not None and done.dest.inlined_responses is not None
    typed, json_schema, cut, refused = (item.response for item in done.dest.inlined_responses)
    for answer in (typed, json_schema):
        assert answer is not None and answer.text is not None
        City.model_validate_json(answer.text)
    assert cut is not None and cut.candidates is not None
    assert cut.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert cut.usage_metadata is not None and cut.usage_metadata.candidates_token_count == 4
    assert refused is not None and refused.candidates is not None
    assert refused.candidates[0].finish_reason == types.FinishReason.SAFETY
    assert refused.candidates[0].content is None and refused.text is None
