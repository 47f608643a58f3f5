"""The xai provider end to end through batch() / BatchJob, over loopback HTTP to the emulator.

A create is a named batch and add-requests calls: these tests pin that every request is
added once, whatever answer is lost, and that a fill which stops is seen, never paid twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from batchwork_prefect import (
    BatchStatus,
    ProviderError,
    ResultStatus,
    SubmissionOutcomeUnknown,
    batch,
    get_batch,
    list_batches,
)
from batchwork_prefect.core import BatchJob, build_parts, submit_built
from batchwork_prefect.core.reconcile import find_lost_batch
from batchwork_prefect.core.retries import retry_reason
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.providers.xai import FILL_INTERRUPTED, XAIProvider
from tests.support import API_KEY

MODEL = "xai/grok-4-1-fast-reasoning"
DAY = 86_400.0
TEN = [{"custom_id": f"q{i}", "prompt": f"Capital of France? ({i})"} for i in range(10)]


def _capital(body: dict[str, Any]) -> str:
    prompt = str(body["messages"][-1]["content"])
    return "Paris" if "France" in prompt else "Tokyo" if "Japan" in prompt else "?"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, time_scale=0, reply_text=_capital) as server:
        yield server


def _provider(emu: Emulator, **options: Any) -> XAIProvider:
    return XAIProvider(api_key=API_KEY, base_url=emu.base_url_for("xai"), **options)


def _batch(emu: Emulator, requests: list[dict[str, Any]], **options: Any) -> BatchJob:
    return batch(MODEL, requests, api_key=API_KEY, base_url=emu.base_url_for("xai"), **options)


def _submissions(emu: Emulator) -> list[int]:
    return [emu.submissions(request["custom_id"], api="xai") for request in TEN]


def test_capital_cities(emu: Emulator) -> None:
    job = _batch(
        emu,
        [
            {"custom_id": "fr", "prompt": "Capital of France? One word."},
            {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
        ],
        defaults={"max_tokens": 16, "system": "Answer briefly."},
    )
    assert job.provider == "xai" and job.id.startswith("batch_")
    assert (emu.calls["xai.batches.create"], emu.calls["xai.batches.add"]) == (1, 1)
    assert job.wait(poll_interval=0.01).status is BatchStatus.COMPLETED
    results = job.collect()
    assert results["fr"].text == "Paris" and results["jp"].text == "Tokyo"
    assert results["fr"].message is not None
    assert results["fr"].message["object"] == "chat.completion"
    assert results.usage.input_tokens > 0


def test_mixed_outcomes_read_as_the_shared_statuses(emu: Emulator) -> None:
    job = _batch(
        emu,
        [
            {"custom_id": "ok", "prompt": "Capital of France?"},
            {"custom_id": "bad", "prompt": "x [[emulate:errored]]"},
            {"custom_id": "stop", "prompt": "x [[emulate:canceled]]"},
        ],
    )
    job.wait(poll_interval=0.01)
    results = job.collect()
    assert {r.custom_id: r.status for r in results.values()} == {
        "ok": ResultStatus.SUCCEEDED,
        "bad": ResultStatus.ERRORED,
        "stop": ResultStatus.CANCELED,
    }
    error = results["bad"].error
    assert error is not None and (error.type, error.message) == (
        "xai_error",
        "Emulated api_error for this request.",
    )


def _submit(provider: XAIProvider, requests: list[dict[str, Any]] = TEN) -> BatchJob:
    return submit_built(provider, build_parts(provider, "grok-4", requests))


def _one_batch(emu: Emulator) -> str:
    listed = httpx.get(
        emu.base_url_for("xai") + "/batches", headers={"authorization": f"Bearer {API_KEY}"}
    ).json()["batches"]
    assert len(listed) == 1
    batch_id: str = listed[0]["batch_id"]
    return batch_id


def test_requests_go_in_chunks_each_added_once(emu: Emulator) -> None:
    job = _submit(_provider(emu, chunk_bytes=400))
    assert emu.calls["xai.batches.add"] > 2
    assert _submissions(emu) == [1] * 10
    assert job.wait(poll_interval=0.01).request_counts.succeeded == 10


def test_a_lost_answer_to_the_make_is_found_by_the_batch_name(emu: Emulator) -> None:
    emu.add_fault(Fault("xai.batches.create", truncate_after_bytes=5))
    job = _submit(_provider(emu))
    assert emu.batches_created == 1
    assert job.id == _one_batch(emu)
    assert job.wait(poll_interval=0.01).request_counts.succeeded == 10


def test_a_server_error_after_the_make_is_found_by_the_batch_name(emu: Emulator) -> None:
    emu.add_fault(Fault("xai.batches.create", status=500, after_create=True))
    job = _submit(_provider(emu, max_retries=0))
    assert emu.batches_created == 1 and job.id == _one_batch(emu)


def test_a_server_error_that_made_nothing_raises_it(emu: Emulator) -> None:
    emu.add_fault(Fault("xai.batches.create", status=500))
    with pytest.raises(ProviderError):
        _submit(_provider(emu, max_retries=0))
    assert emu.batches_created == 0


@pytest.mark.parametrize(
    "fault",
    [
        Fault("xai.batches.add", status=500, after_create=True),
        Fault("xai.batches.add", truncate_after_bytes=0),
    ],
    ids=["server error after adding", "answer cut"],
)
def test_a_chunk_whose_answer_is_lost_is_settled_never_added_twice(
    emu: Emulator, fault: Fault
) -> None:
    provider = _provider(emu, chunk_bytes=400, max_retries=0)
    emu.add_fault(fault)
    job = _submit(provider)
    assert _submissions(emu) == [1] * 10
    assert emu.calls["xai.batches.requests"] == 1  # the settling look at the held ids
    assert job.wait(poll_interval=0.01).request_counts.succeeded == 10


def test_a_first_add_refused_raises_it_and_cancels_the_empty_batch(emu: Emulator) -> None:
    emu.add_fault(Fault("xai.batches.add", status=400))
    with pytest.raises(ProviderError) as refused:
        _submit(_provider(emu))
    assert refused.value.status_code == 400
    snapshot = _provider(emu).retrieve(_one_batch(emu))
    assert snapshot.status is BatchStatus.CANCELLED and snapshot.digest is None
    assert _submissions(emu) == [0] * 10


def _cut_after_first_add() -> httpx.Client:
    """A client whose second add-requests call never leaves (its connection fails)."""
    adds = []

    def hook(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path.endswith("/requests"):
            adds.append(request)
            if len(adds) == 2:
                raise httpx.ConnectError("cut", request=request)

    return httpx.Client(event_hooks={"request": [hook]})


def test_a_fill_that_stops_names_the_batch_and_its_missing_requests_error(
    emu: Emulator,
) -> None:
    provider = _provider(emu, chunk_bytes=400, max_retries=0, client=_cut_after_first_add())
    built = build_parts(provider, "grok-4", TEN)
    with pytest.raises(SubmissionOutcomeUnknown) as lost:
        submit_built(provider, built)
    batch_id = lost.value.batch_id
    assert batch_id == _one_batch(emu)
    added = sum(_submissions(emu))
    assert 0 < added < 10 and max(_submissions(emu)) == 1
    reader = _provider(emu)
    found = find_lost_batch(
        reader,
        request_count=10,
        attempted_at=lost.value.attempted_at,
        digest=built.parts[0].digest,
    )
    assert [batch.id for batch in found] == [batch_id]
    snapshot = reader.retrieve(batch_id)
    assert snapshot.status is BatchStatus.COMPLETED
    assert snapshot.request_counts.total == 10
    assert snapshot.request_counts.errored == 10 - added
    assert [problem.code for problem in snapshot.errors] == [FILL_INTERRUPTED]
    ids = [request["custom_id"] for request in TEN]
    results = {r.custom_id: r for r in reader.results(snapshot, custom_ids=ids)}  # type: ignore[union-attr]
    never = [one for one in ids if results[one].status is ResultStatus.ERRORED]
    assert len(never) == 10 - added
    assert all(results[one].error.type == FILL_INTERRUPTED for one in never)  # type: ignore[union-attr]
    # never run, never paid: a retry round may send them again
    assert {retry_reason(results[one]) for one in never} == {FILL_INTERRUPTED}


def test_a_cancelled_batch_reads_its_pending_requests_as_canceled(emu: Emulator) -> None:
    emu.settings.processing_seconds = 60
    job = _batch(emu, TEN[:3])
    assert job.poll().status is BatchStatus.IN_PROGRESS
    job.cancel()
    assert job.wait(poll_interval=0.01).status is BatchStatus.CANCELLED
    assert job.collect().counts[ResultStatus.CANCELED] == 3


def test_a_batch_past_its_expire_time_is_expired(emu: Emulator) -> None:
    job = _batch(emu, [*TEN[:1], {"custom_id": "late", "prompt": "x [[emulate:expired]]"}])
    assert job.poll().status is BatchStatus.IN_PROGRESS
    emu.advance(DAY + 1)
    assert job.wait(poll_interval=0.01).status is BatchStatus.EXPIRED
    results = job.collect()
    assert results["late"].status is ResultStatus.EXPIRED
    assert results["q0"].status is ResultStatus.SUCCEEDED


def test_get_batch_and_list_batches_by_the_providers_name(emu: Emulator) -> None:
    first = _batch(emu, TEN[:2])
    emu.advance(1)  # made a second apart: the list's newest-first order is then certain
    second = _batch(emu, TEN[2:4])
    listed = list_batches("xai", api_key=API_KEY, base_url=emu.base_url_for("xai"))
    assert [snapshot.id for snapshot in listed][:2] == [second.id, first.id]
    again = get_batch(first.id, provider="xai", api_key=API_KEY, base_url=emu.base_url_for("xai"))
    again.wait(poll_interval=0.01)
    assert sorted(again.collect().texts()) == ["q0", "q1"]


def test_a_wrong_key_is_refused_without_the_key_in_the_error(emu: Emulator) -> None:
    wrong = "xai-this-is-the-wrong-key-0000"
    with pytest.raises(ProviderError) as refused:
        batch(MODEL, TEN[:1], api_key=wrong, base_url=emu.base_url_for("xai"))
    assert refused.value.status_code == 400
    assert "Incorrect API key provided" in str(refused.value)
    assert refused.value.error_type == "Client specified an invalid argument"
    assert wrong not in str(refused.value) and wrong[-8:] not in str(refused.value)


def test_ids_are_checked_before_they_reach_a_url(emu: Emulator) -> None:
    from batchwork_prefect import UnsafeURLError

    with pytest.raises(UnsafeURLError):
        _provider(emu).retrieve("batch_x/../../v1/files")
    with pytest.raises(UnsafeURLError):
        _provider(emu).cancel("batch_x:cancel")


def test_limits_key_and_base_url_come_from_xais_numbers_and_variables(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchwork_prefect.providers.xai import LIMITS

    assert (LIMITS.max_requests, LIMITS.max_bytes) == (1_000_000, 2_500_000_000)
    monkeypatch.setenv("XAI_API_KEY", API_KEY)
    monkeypatch.setenv("XAI_BASE_URL", emu.base_url_for("xai"))
    job = batch(MODEL, TEN[:1])
    assert job.wait(poll_interval=0.01).status is BatchStatus.COMPLETED
    assert ("authorization", f"Bearer {API_KEY}") in emu.requests_received[-1][1].items()
    monkeypatch.delenv("XAI_BASE_URL")
    assert XAIProvider().base_url == "https://api.x.ai/v1"


def test_past_100_add_calls_in_30_seconds_the_fill_waits(emu: Emulator) -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the provider's wait, as the emulated clock's
        slept.append(seconds)
        now[0] += seconds
        emu.advance(seconds)

    provider = _provider(emu, chunk_bytes=200, sleep=sleep, clock=lambda: now[0])
    requests = [{"custom_id": f"r{i:03d}", "prompt": "hi"} for i in range(101)]
    job = _submit(provider, requests)
    assert emu.calls["xai.batches.add"] == 101
    assert slept == [30.0]
    assert job.poll().request_counts.total == 101
