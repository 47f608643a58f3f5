"""The openai provider end to end through batch() / BatchJob, over loopback HTTP to the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from batchwork_prefect import (
    BatchLimits,
    BatchResults,
    BatchStatus,
    ProviderError,
    ResultStatus,
    SubmissionOutcomeUnknown,
    batch,
    get_batch,
    list_batches,
)
from batchwork_prefect._http.transport import Retry
from batchwork_prefect.core import BatchJob, build_parts, submit_built
from batchwork_prefect.core.reconcile import find_lost_batch
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.models import BatchProblem
from batchwork_prefect.providers._files import FAILED_TYPE
from batchwork_prefect.providers.openai import (
    GroqProvider,
    OpenAIProvider,
    encode_request,
)
from tests.support import API_KEY
from tests.support.shapes import result_shape

MODEL = "openai/gpt-4o-mini"
DAY = 86_400.0
MIXED = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "bad", "prompt": "x [[emulate:errored]]"},
    {"custom_id": "late", "prompt": "x [[emulate:expired]]"},
    {"custom_id": "stop", "prompt": "x [[emulate:canceled]]"},
]


def _capital(body: dict[str, Any]) -> str:
    prompt = str(body["messages"][-1]["content"])
    return "Paris" if "France" in prompt else "Tokyo" if "Japan" in prompt else "?"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, time_scale=0, reply_text=_capital) as server:
        yield server


def _batch(emu: Emulator, requests: list[dict[str, Any]], **options: Any) -> BatchJob:
    return batch(MODEL, requests, api_key=API_KEY, base_url=emu.openai_base_url, **options)


def _provider(emu: Emulator, **options: Any) -> OpenAIProvider:
    return OpenAIProvider(api_key=API_KEY, base_url=emu.openai_base_url, **options)


def test_capital_cities(emu: Emulator) -> None:
    job = _batch(
        emu,
        [
            {"custom_id": "fr", "prompt": "Capital of France? One word."},
            {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
        ],
        defaults={"max_tokens": 16, "system": "Answer briefly."},
    )
    assert job.provider == "openai"
    assert job.id.startswith("batch_")
    assert job.wait(poll_interval=0.01).status is BatchStatus.COMPLETED
    results = job.collect()
    assert results["fr"].text == "Paris" and results["jp"].text == "Tokyo"
    assert results["fr"].message is not None
    assert results["fr"].message["object"] == "chat.completion"
    assert results.usage.input_tokens > 0
    assert BatchResults.model_validate_json(results.model_dump_json()).results == results.results


def test_the_request_lines_uploaded(emu: Emulator) -> None:
    job = _batch(emu, [{"custom_id": "fr", "prompt": "hi", "max_tokens": 9}])
    assert emu.calls["openai.files.create"] == 1
    assert emu.calls["openai.batches.create"] == 1
    job.wait(poll_interval=0.01)
    assert job.collect()["fr"].status is ResultStatus.SUCCEEDED


def test_mixed_outcomes_have_the_same_shape_as_anthropics(emu: Emulator) -> None:
    job = _batch(emu, MIXED)
    job.wait(poll_interval=0.01)
    openai_results = job.collect()
    assert openai_results.counts == {status: 1 for status in ResultStatus}
    errored = openai_results["bad"].error
    assert errored is not None and errored.type and errored.message and errored.request_id
    anthropic = batch("anthropic/claude-x", MIXED, api_key=API_KEY, base_url=emu.base_url)
    anthropic.wait(poll_interval=0.01)
    assert result_shape(openai_results) == result_shape(anthropic.collect())


def test_streamed_results_are_the_collected_ones(emu: Emulator) -> None:
    job = _batch(emu, MIXED)
    job.wait(poll_interval=0.01)
    assert sorted(r.custom_id for r in job.results()) == sorted(job.collect().texts())


def test_a_batch_that_expires(emu: Emulator) -> None:
    emu.settings.processing_seconds = 2 * DAY
    job = _batch(emu, MIXED[:2])
    assert job.poll().status is BatchStatus.IN_PROGRESS
    emu.advance(DAY + 1)
    snapshot = job.wait(poll_interval=0.01)
    assert snapshot.status is BatchStatus.EXPIRED
    results = job.collect()
    assert {r.custom_id: r.status for r in results.values()} == {
        "fr": ResultStatus.EXPIRED,
        "bad": ResultStatus.EXPIRED,
    }


def test_a_batch_whose_window_closes_midway_is_expired_and_keeps_what_finished(
    emu: Emulator,
) -> None:
    emu.settings.processing_seconds = 2 * DAY  # half the requests are done after a day
    requests = [{"custom_id": f"q{i}", "prompt": f"Question {i}"} for i in range(4)]
    job = _batch(emu, requests)
    emu.advance(DAY + 1)
    assert job.wait(poll_interval=0.01).status is BatchStatus.EXPIRED
    results = job.collect()
    assert results.counts[ResultStatus.SUCCEEDED] == 2
    assert results.counts[ResultStatus.EXPIRED] == 2
    assert job.snapshot.request_counts.expired == 2


def test_a_stream_left_in_a_later_part_keeps_the_counts_settled_before(emu: Emulator) -> None:
    # Two parts: the first holds the requests OpenAI counts as failed but never ran.
    limits = BatchLimits(max_requests=2, max_bytes=10**6)
    job = _batch(emu, MIXED[2:] + MIXED[:2], limits=limits)
    job.wait(poll_interval=0.01)
    assert len(job.ids) == 2
    before = job.snapshot.request_counts
    assert (before.errored, before.expired, before.canceled) == (3, 0, 0)
    stream = job.results()
    # the first part to its end (its settled snapshot comes behind its last result), then
    # one result of the second part, and the reader stops
    read = [next(stream).custom_id for _ in range(3)]
    stream.close()
    assert sorted(read[:2]) == ["late", "stop"] and read[2] in ("fr", "bad")
    after = job.snapshot.request_counts
    assert (after.errored, after.expired, after.canceled) == (1, 1, 1)


def test_a_batch_that_is_cancelled(emu: Emulator) -> None:
    emu.settings.processing_seconds = 600
    emu.settings.cancel_seconds = 30
    job = _batch(emu, MIXED[:2])
    assert job.cancel().status is BatchStatus.CANCELLING
    assert job.snapshot.cancel_initiated_at is not None
    emu.advance(31)
    assert job.wait(poll_interval=0.01).status is BatchStatus.CANCELLED
    results = job.collect()
    assert [r.status for r in results.values()] == [ResultStatus.CANCELED] * 2
    again = get_batch(job.id, provider="openai", api_key=API_KEY, base_url=emu.openai_base_url)
    assert result_shape(again.collect()) == result_shape(results)


def _failing_lines() -> list[bytes]:
    good = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    return [
        encode_request("a", good),
        encode_request("b", {"model": "gpt-4o-mini"}),  # no messages: the file fails
        encode_request("c", good),
    ]


def test_a_failed_batch_shows_its_errors_and_errors_every_request(emu: Emulator) -> None:
    provider = _provider(emu)
    created = provider.create(_failing_lines(), digest="f" * 64)
    job = BatchJob(provider, [created], custom_ids=[["a", "b", "c"]])
    snapshot = job.wait(poll_interval=0.01)
    assert snapshot.status is BatchStatus.FAILED
    assert snapshot.request_counts.total == 3 and snapshot.request_counts.errored == 3
    assert len(snapshot.errors) == 1
    problem = snapshot.errors[0]
    assert isinstance(problem, BatchProblem) and problem.line == 2
    results = job.collect()
    assert [r.status for r in results.values()] == [ResultStatus.ERRORED] * 3
    assert results["b"].error is not None and results["b"].error.type == problem.code
    assert results["a"].error is not None and results["a"].error.type == FAILED_TYPE
    assert problem.message in results["a"].error.message
    # without the submitted ids, they are read from the batch's input file
    again = get_batch(job.id, provider="openai", api_key=API_KEY, base_url=emu.openai_base_url)
    assert again.collect().results == results.results
    assert emu.calls["openai.files.content"] == 1


def test_parts_past_the_limits_are_one_job(emu: Emulator) -> None:
    requests = [{"custom_id": f"r{i}", "prompt": "Japan?"} for i in range(5)]
    job = _batch(emu, requests, limits=BatchLimits(max_requests=2, max_bytes=10_000))
    assert len(job.ids) == 3
    job.wait(poll_interval=0.01)
    assert job.collect().texts() == {f"r{i}": "Tokyo" for i in range(5)}


def test_a_create_answered_with_500_is_not_resent_and_is_found_by_its_digest(
    emu: Emulator,
) -> None:
    _batch(emu, [{"custom_id": "other", "prompt": "same size"}])  # a same-size neighbour
    emu.add_fault(Fault(route="openai.batches.create", status=500, after_create=True))
    provider = _provider(emu)
    built = build_parts(provider, "gpt-4o-mini", [{"custom_id": "x", "prompt": "lost"}])
    part = built.parts[0]
    attempted_at = datetime.now(UTC)
    with pytest.raises(ProviderError) as caught:
        provider.create(part.encoded, digest=part.digest)
    assert caught.value.status_code == 500
    assert emu.calls["openai.batches.create"] == 2  # the neighbour's, and this one, once
    found = find_lost_batch(
        provider, request_count=1, attempted_at=attempted_at, digest=part.digest
    )
    assert len(found) == 1 and found[0].digest == part.digest
    by_size = find_lost_batch(provider, request_count=1, attempted_at=attempted_at)
    assert len(by_size) == 2  # what size and time alone would have had to choose from


def test_a_lost_create_answer_is_an_unknown_outcome_naming_the_digest(emu: Emulator) -> None:
    emu.add_fault(Fault(route="openai.batches.create", truncate_after_bytes=5, after_create=True))
    provider = _provider(emu, sleep=lambda _: None)
    with pytest.raises(SubmissionOutcomeUnknown) as caught:
        provider.create([encode_request("a", {"model": "m", "messages": []})], digest="e" * 64)
    lost = caught.value
    assert lost.digest == "e" * 64 and lost.request_count == 1
    assert emu.calls["openai.batches.create"] == 1
    found = find_lost_batch(
        provider, request_count=1, attempted_at=lost.attempted_at, digest=lost.digest
    )
    assert [batch.digest for batch in found] == [lost.digest]


@pytest.mark.parametrize("status", [429, 408])
def test_a_create_refused_as_not_processed_is_retried(emu: Emulator, status: int) -> None:
    emu.add_fault(Fault(route="openai.batches.create", status=status, retry_after_ms=1))
    job = batch(MODEL, MIXED[:1], api_key=API_KEY, base_url=emu.openai_base_url, timeout=5.0)
    assert emu.calls["openai.batches.create"] == 2
    assert len(list(job._provider.list_batches())) == 1
    job.close()


def test_a_failed_upload_is_retried_and_makes_no_batch_twice(emu: Emulator) -> None:
    emu.add_fault(Fault(route="openai.files.create", status=503, times=2))
    provider = _provider(emu, sleep=lambda _: None)
    provider.create([encode_request("a", {"model": "m", "messages": []})], digest="d")
    assert emu.calls["openai.files.create"] == 3
    assert emu.calls["openai.batches.create"] == 1


def test_a_cut_results_stream_is_resumed(emu: Emulator) -> None:
    requests = [{"custom_id": f"r{i}", "prompt": "France"} for i in range(40)]
    provider = _provider(emu, sleep=lambda _: None)
    job = submit_built(provider, build_parts(provider, "gpt-4o-mini", requests))
    job.wait(poll_interval=0.01)
    emu.add_fault(Fault(route="openai.files.content", truncate_after_bytes=3000))
    assert job.collect().texts() == {f"r{i}": "Paris" for i in range(40)}
    assert emu.calls["openai.files.content"] == 2


def test_list_batches_rounds_created_after_down_to_whole_seconds(emu: Emulator) -> None:
    job = _batch(emu, MIXED[:1])
    created = job.snapshot.created_at
    assert created is not None and created.microsecond == 0

    def listed(after: datetime) -> list[str]:
        found = list_batches(
            "openai", created_after=after, api_key=API_KEY, base_url=emu.openai_base_url
        )
        return [snapshot.id for snapshot in found]

    assert listed(created + timedelta(milliseconds=999)) == [job.id]
    assert listed(created + timedelta(seconds=1)) == []


def test_list_batches_pages_through_every_batch(emu: Emulator) -> None:
    ids = {_batch(emu, [{"custom_id": "a", "prompt": str(i)}]).id for i in range(3)}
    provider = _provider(emu)
    found = [snapshot.id for snapshot in provider.list_batches()]
    assert set(found) == ids and len(found) == 3


def test_credentials_and_headers_go_as_the_sdk_sends_them(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", emu.openai_base_url)
    monkeypatch.setenv("OPENAI_ORG_ID", "org-123")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj_456")
    job = batch(MODEL, MIXED[:1])
    job.close()
    for _, headers in emu.requests_received:
        assert headers["authorization"] == f"Bearer {API_KEY}"
        assert headers["openai-organization"] == "org-123"
        assert headers["openai-project"] == "proj_456"
        assert "x-api-key" not in headers


def test_organization_and_project_headers_may_come_through_headers(emu: Emulator) -> None:
    job = _batch(emu, MIXED[:1], headers={"OpenAI-Organization": "org-9", "OpenAI-Project": "p"})
    job.close()
    for _, headers in emu.requests_received:
        assert (headers["openai-organization"], headers["openai-project"]) == ("org-9", "p")


def test_groq_is_the_same_api_under_its_own_name_and_key(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GROQ_API_KEY", API_KEY)
    monkeypatch.setenv("GROQ_BASE_URL", emu.openai_base_url)
    monkeypatch.setenv("OPENAI_ORG_ID", "org-not-for-groq")
    job = batch("groq/gpt-oss-20b", MIXED[:1])
    assert job.provider == "groq" and job.snapshot.provider == "groq"
    job.wait(poll_interval=0.01)
    assert job.collect()["fr"].text == "Paris"
    assert all("openai-organization" not in h for _, h in emu.requests_received)


def test_default_base_urls_include_v1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GROQ_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert GroqProvider(api_key="k").base_url == "https://api.groq.com/openai/v1"
    assert OpenAIProvider(api_key="k").base_url == "https://api.openai.com/v1"


def test_the_upload_is_a_jsonl_file_of_the_encoded_requests(emu: Emulator) -> None:
    provider = _provider(emu)
    lines = [encode_request("a", {"model": "m", "messages": [{"role": "user", "content": "é"}]})]
    created = provider.create(lines, digest="d" * 64)
    body = provider._get_batch(created.id).json()
    content = provider._transport.request(
        "GET",
        provider._transport.url(f"/files/{body['input_file_id']}/content"),
        retry=Retry.IDEMPOTENT,
    ).content
    assert [orjson.loads(line) for line in content.splitlines()] == [orjson.loads(lines[0])]
