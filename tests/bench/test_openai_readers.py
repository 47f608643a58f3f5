"""The OpenAI rows' readers agree, and read what the OpenAI workload says it serves.

Against the bench's OpenAI batch (text replies, some tool calls alone with `content` null,
some requests errored or expired): this project's reader, the openai SDK's and the raw
floor's must each see every result once and give the same status, text and usage for every
custom_id, and those must be the workload's. The submitters must each leave one batch of
every request, with the same input lines.
"""

from __future__ import annotations

import importlib.util
import math
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from batchwork_prefect.emulator import Emulator
from bench import openai_cases, openai_workloads
from bench.cases import Case, Job
from bench.workloads import MAX_TOKENS, custom_id, outcome, prompts

SIZE = 200
"""Results in the batch: 186 succeeded (some of them tool calls), 10 errored, 4 expired."""

Reader = Callable[[Job], int]
READERS: list[tuple[str, Reader, str]] = [
    ("project", openai_cases.read_project, "batchwork_prefect"),
    ("sdk", openai_cases.read_sdk, "openai"),
    ("raw", openai_cases.read_raw, "httpx"),
]
Fields = tuple[str, str, tuple[int, int, int] | None]
"""(status, text, (prompt, completion, cached tokens)) of one result, as the test compares
them: the text of a result without one is ""."""


@pytest.fixture(scope="module")
def batch() -> Iterator[Job]:
    """The bench's OpenAI read batch of SIZE results, ended, on a running emulator."""
    with Emulator(
        api_key=openai_workloads.API_KEY, reply_content=openai_workloads.reply_content
    ) as emulator:
        base_url = emulator.openai_base_url
        yield Job(base_url=base_url, batch_id=openai_workloads.create_batch(base_url, SIZE))


def _expected() -> dict[str, Fields]:
    """What every result must read as, from the workload alone (the emulator counts a token
    for every four characters: the prompt's, the text's or the tool call's arguments')."""
    expected: dict[str, Fields] = {}
    for index, prompt in enumerate(openai_workloads.read_prompts(SIZE)):
        status = outcome(index)
        if status != "succeeded":
            expected[custom_id(index)] = (status, "", None)
            continue
        params = {"messages": [{"role": "user", "content": prompt}]}
        text = openai_workloads.reply_text(params)
        if text is None:
            (block,) = openai_workloads.reply_content(params)
            output = len(orjson.dumps(block["input"]))
        else:
            output = len(text)
        usage = (math.ceil(len(prompt) / 4), math.ceil(output / 4), 0)
        expected[custom_id(index)] = (status, text or "", usage)
    return expected


def _usage(usage: Any) -> tuple[int, int, int] | None:
    if usage is None:
        return None
    if isinstance(usage, dict):
        details = usage["prompt_tokens_details"]
        return usage["prompt_tokens"], usage["completion_tokens"], details["cached_tokens"]
    return usage.input_tokens, usage.output_tokens, usage.cache_read_input_tokens


def _read_with(reader: Reader, job: Job, monkeypatch: pytest.MonkeyPatch) -> dict[str, Fields]:
    seen: list[tuple[Any, Any, Any, Any]] = []
    monkeypatch.setattr(openai_cases, "_consume", lambda *fields: seen.append(fields))
    assert reader(job) == SIZE
    by_id: dict[str, Fields] = {}
    for result_id, status, text, usage in seen:
        status = str(getattr(status, "value", status))
        by_id[result_id] = (status, text or "", _usage(usage) if status == "succeeded" else None)
    assert len(by_id) == len(seen) == SIZE  # every result once
    return by_id


@pytest.mark.parametrize(("name", "reader", "module"), READERS, ids=[r[0] for r in READERS])
def test_each_reader_reads_every_result_as_the_workload_made_it(
    name: str, reader: Reader, module: str, batch: Job, monkeypatch: pytest.MonkeyPatch
) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[bench]')")
    assert _read_with(reader, batch, monkeypatch) == _expected()


def test_the_readers_agree_per_custom_id(batch: Job, monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("openai") is None:
        pytest.skip("openai is not installed (pip install -e '.[bench]')")
    read = {name: _read_with(reader, batch, monkeypatch) for name, reader, _ in READERS}
    assert read["project"] == read["sdk"] == read["raw"]
    statuses = Counter(status for status, _, _ in read["project"].values())
    assert statuses == {"succeeded": 186, "errored": 10, "expired": 4}


def _files(job: Job) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    headers = openai_workloads.HEADERS
    batch = httpx.get(f"{job.base_url}/batches/{job.batch_id}", headers=headers).json()
    files = []
    for key in ("output_file_id", "error_file_id"):
        url = f"{job.base_url}/files/{batch[key]}/content"
        body = httpx.get(url, headers=headers).content
        files.append([orjson.loads(line) for line in body.splitlines()])
    return files[0], files[1]


def test_the_files_are_shaped_as_openai_writes_them(batch: Job) -> None:
    output, errors = _files(batch)
    assert len(output) + len(errors) == SIZE
    finishes: Counter[str] = Counter()
    for line in output:
        assert set(line) == {"id", "custom_id", "response", "error"} and line["error"] is None
        assert line["response"]["status_code"] == 200
        body = line["response"]["body"]
        assert body["object"] == "chat.completion" and body["model"] == openai_workloads.MODEL
        assert {"service_tier", "system_fingerprint", "created"} <= set(body)
        (choice,) = body["choices"]
        message = choice["message"]
        assert message["refusal"] is None and message["annotations"] == []
        finishes[choice["finish_reason"]] += 1
        if choice["finish_reason"] == "tool_calls":
            assert message["content"] is None
            (call,) = message["tool_calls"]
            assert call["function"]["name"] == "lookup_order"
        else:
            assert choice["finish_reason"] == "stop" and "tool_calls" not in message
            assert message["content"].count(". ") >= 2  # several sentences
        usage = body["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert {"cached_tokens", "audio_tokens"} <= set(usage["prompt_tokens_details"])
        assert "reasoning_tokens" in usage["completion_tokens_details"]
    assert 0 < finishes["tool_calls"] < finishes["stop"]
    kinds: Counter[object] = Counter()
    for line in errors:
        if line["response"] is None:
            kinds[line["error"]["code"]] += 1
        else:
            assert line["error"] is None and "error" in line["response"]["body"]
            kinds[line["response"]["status_code"]] += 1
    assert kinds == {500: 6, 400: 4, "batch_expired": 4}


SUBMITTERS = [*openai_cases.SUBMITTERS, openai_cases.UPLOAD_ONLY]


@pytest.mark.parametrize("case", SUBMITTERS, ids=[case.key for case in SUBMITTERS])
def test_each_submitter_makes_one_batch_of_the_same_lines(case: Case) -> None:
    if not case.installed:
        pytest.skip(f"{case.modules} not installed (pip install -e '.[bench]')")
    count = 50
    with Emulator() as emulator:
        job = Job(base_url=emulator.openai_base_url, prompts=tuple(prompts(count)))
        job = case.prepare(job) if case.prepare is not None else job
        assert case.run(job) == count
        assert emulator.batches_created == 1
        assert openai_workloads.created_requests(job.base_url) == count
        headers = openai_workloads.HEADERS
        batch = httpx.get(f"{job.base_url}/batches", headers=headers).json()["data"][0]
        url = f"{job.base_url}/files/{batch['input_file_id']}/content"
        lines = [
            orjson.loads(line) for line in httpx.get(url, headers=headers).content.splitlines()
        ]
    for index, line in enumerate(lines):
        assert line["custom_id"] == custom_id(index)
        assert (line["method"], line["url"]) == ("POST", "/v1/chat/completions")
        assert line["body"]["model"] == openai_workloads.MODEL
        assert line["body"]["max_completion_tokens"] == MAX_TOKENS
        assert line["body"]["messages"] == [{"role": "user", "content": prompts(count)[index]}]


def test_the_openai_rows_take_at_most_one_openai_batch() -> None:
    assert openai_workloads.size(200) == 200
    assert openai_workloads.size(100_000) == openai_workloads.MAX_SIZE == 50_000
