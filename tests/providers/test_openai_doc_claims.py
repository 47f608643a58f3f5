"""docs/providers.md promises about the openai provider that no other test pins, checked through
`batch()` / `BatchJob` over loopback HTTP to the emulator: refusals before anything is
sent, counts settled by reading, a failed batch's result type, the key scrubbed from error
answers, which create answers are resent, and the text of a many-choice completion."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from batchwork_prefect import (
    BatchStatus,
    InvalidBatchError,
    ProviderError,
    ResultStatus,
    batch,
)
from batchwork_prefect.core import BatchJob
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.models import RequestCounts
from batchwork_prefect.providers.openai import OpenAIProvider, encode_request
from batchwork_prefect.providers.openai.results import parse_result_line
from tests.support import API_KEY

MODEL = "openai/gpt-4o-mini"
MIXED = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "bad", "prompt": "x [[emulate:errored]]"},
    {"custom_id": "late", "prompt": "x [[emulate:expired]]"},
    {"custom_id": "stop", "prompt": "x [[emulate:canceled]]"},
]
KEY = "sk-proj-right0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, time_scale=0) as server:
        yield server


def _batch(emu: Emulator, requests: list[dict[str, Any]], **options: Any) -> BatchJob:
    return batch(MODEL, requests, api_key=API_KEY, base_url=emu.openai_base_url, **options)


def _provider(emu: Emulator, key: str = API_KEY) -> OpenAIProvider:
    return OpenAIProvider(api_key=key, base_url=emu.openai_base_url, sleep=lambda _: None)


@pytest.mark.parametrize(
    ("request_fields", "fix"),
    [
        ({"top_k": 5}, "top_p is nucleus sampling"),
        ({"params": {"thinking": {"type": "enabled", "budget_tokens": 1024}}}, "reasoning_effort"),
    ],
)
def test_what_openai_cannot_take_is_refused_before_anything_is_sent(
    emu: Emulator, request_fields: dict[str, Any], fix: str
) -> None:
    with pytest.raises(InvalidBatchError) as caught:
        _batch(emu, [{"custom_id": "a", "prompt": "x", **request_fields}])
    assert fix in " ".join(caught.value.problems)
    assert emu.requests_received == []


def test_collect_settles_the_counts_openai_reported_as_failed(emu: Emulator) -> None:
    job = _batch(emu, MIXED)
    ended = job.wait(poll_interval=0.01)
    # OpenAI counts the requests it never ran among the failed ones
    assert ended.status is BatchStatus.COMPLETED
    assert ended.request_counts == RequestCounts(total=4, succeeded=1, errored=3)
    job.collect()
    assert job.snapshot.request_counts == RequestCounts(
        total=4, succeeded=1, errored=1, expired=1, canceled=1
    )
    assert job.snapshot.status is BatchStatus.COMPLETED


def test_streamed_results_settle_a_cancelled_batchs_counts(emu: Emulator) -> None:
    emu.settings.processing_seconds = 600
    job = _batch(emu, MIXED[:2])
    job.cancel()
    ended = job.wait(poll_interval=0.01)
    assert ended.status is BatchStatus.CANCELLED
    assert ended.request_counts.canceled == 0
    assert [r.status for r in job.results()] == [ResultStatus.CANCELED] * 2
    assert job.snapshot.request_counts == RequestCounts(total=2, canceled=2)


def test_a_failed_batchs_unnamed_requests_are_errored_as_batch_failed(emu: Emulator) -> None:
    good = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    lines = [encode_request("a", good), encode_request("b", {"model": "gpt-4o-mini"})]
    provider = _provider(emu)
    job = BatchJob(provider, [provider.create(lines, digest="f" * 64)], custom_ids=[["a", "b"]])
    assert job.wait(poll_interval=0.01).status is BatchStatus.FAILED
    results = job.collect()
    assert results["a"].error is not None and results["a"].error.type == "batch_failed"
    assert results["b"].error is not None
    assert results["b"].error.type == "missing_required_parameter"


@pytest.mark.parametrize(
    "echoed",
    [KEY, "sk-proj-****...wxyz", KEY[:8] + "*" * 36 + KEY[-4:], KEY[13:21]],
    ids=["whole", "masked-with-dots", "masked-as-openai", "piece-of-8"],
)
def test_the_key_is_redacted_from_an_error_answer_echoing_it(emu: Emulator, echoed: str) -> None:
    error = {"message": f"Incorrect API key provided: {echoed}.", "type": "x", "code": "y"}
    emu.add_fault(
        Fault(route="openai.batches.list", status=401, body=orjson.dumps({"error": error}))
    )
    with pytest.raises(ProviderError) as caught:
        list(_provider(emu, KEY).list_batches())
    text = str(caught.value) + repr(caught.value)
    assert "Incorrect API key provided: <redacted>." in text
    assert echoed not in text


def _create_once(emu: Emulator) -> None:
    _provider(emu).create([encode_request("a", {"model": "m", "messages": []})], digest="d" * 64)


@pytest.mark.parametrize(
    "fault",
    [
        Fault(route="openai.batches.create", status=529, retry_after_ms=1),
        Fault(route="openai.batches.create", status=500, should_retry=True, retry_after_ms=1),
    ],
    ids=["529", "x-should-retry"],
)
def test_a_create_answered_as_not_done_is_resent(emu: Emulator, fault: Fault) -> None:
    emu.add_fault(fault)
    _create_once(emu)
    assert emu.calls["openai.batches.create"] == 2


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_create_answered_with_another_5xx_is_not_resent(emu: Emulator, status: int) -> None:
    emu.add_fault(Fault(route="openai.batches.create", status=status, retry_after_ms=1))
    with pytest.raises(ProviderError) as caught:
        _create_once(emu)
    assert caught.value.status_code == status
    assert emu.calls["openai.batches.create"] == 1


def test_text_is_the_first_choices_content() -> None:
    choices = [
        {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        for i, text in enumerate(["first", "second"])
    ]
    completion = {"object": "chat.completion", "choices": choices}
    response = {"status_code": 200, "request_id": "req_1", "body": completion}
    line = orjson.dumps({"custom_id": "a", "response": response, "error": None})
    result = parse_result_line(line, "batch_1")
    assert result is not None and result.text == "first"
    assert result.message == completion
