"""The together provider end to end over loopback HTTP to the emulator: create, poll,
results (output and error files, requests never run), cancel, the lost create found by the
digest in its input file's name, limits split into parts, keys kept out of errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest

from batchwork_prefect import (
    BatchStatus,
    ProviderError,
    ResultStatus,
    SubmissionOutcomeUnknown,
)
from batchwork_prefect.core import BatchJob, build_parts, submit_built
from batchwork_prefect.core.reconcile import find_lost_batch
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.providers.base import BatchLimits
from batchwork_prefect.providers.together import TogetherProvider
from tests.support import API_KEY

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"


def _capital(body: dict[str, Any]) -> str:
    prompt = str(body["messages"][-1]["content"])
    return "Paris" if "France" in prompt else "Tokyo" if "Japan" in prompt else "?"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, time_scale=0, reply_text=_capital) as server:
        yield server


def _provider(emu: Emulator, **options: Any) -> TogetherProvider:
    return TogetherProvider(api_key=API_KEY, base_url=emu.base_url_for("together"), **options)


def _submit(provider: TogetherProvider, requests: list[dict[str, Any]], **options: Any) -> BatchJob:
    return submit_built(provider, build_parts(provider, MODEL, requests, **options))


def test_capital_cities_and_an_error(emu: Emulator) -> None:
    provider = _provider(emu)
    job = _submit(
        provider,
        [
            {"custom_id": "fr", "prompt": "Capital of France? One word."},
            {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
            {"custom_id": "bad", "prompt": "x [[emulate:errored]]"},
        ],
        defaults={"max_tokens": 16, "system": "Answer briefly."},
    )
    assert job.provider == "together"
    first = job.snapshot
    assert first.status is BatchStatus.VALIDATING and first.request_counts.total == 3
    assert job.wait(poll_interval=0.01).status is BatchStatus.COMPLETED
    results = job.collect()
    assert (results["fr"].text, results["jp"].text) == ("Paris", "Tokyo")
    assert results["fr"].usage is not None and results["fr"].usage.input_tokens > 0
    assert results["bad"].status is ResultStatus.ERRORED
    assert results["bad"].error is not None and results["bad"].error.message
    # the counts the results showed replace the provisional ones (all 3 "succeeded")
    assert (job.snapshot.request_counts.succeeded, job.snapshot.request_counts.errored) == (2, 1)


def test_retrieve_reads_the_digest_and_count_from_the_input_file(emu: Emulator) -> None:
    provider = _provider(emu)
    built = build_parts(provider, MODEL, [{"prompt": "a"}, {"prompt": "b"}])
    created = provider.create(built.parts[0].encoded, digest=built.parts[0].digest)
    fresh = _provider(emu)  # knows nothing of the upload: reads the file's name
    seen = fresh.retrieve(created.id)
    assert (seen.digest, seen.request_counts.total) == (built.parts[0].digest, 2)
    assert emu.calls["together.files.retrieve"] == 1
    fresh.retrieve(created.id)
    assert emu.calls["together.files.retrieve"] == 1  # read once per input file


def test_a_cancelled_batch_gives_canceled_results_for_what_never_ran() -> None:
    with Emulator(api_key=API_KEY, time_scale=0, processing_seconds=100) as emu:
        provider = _provider(emu)
        job = _submit(provider, [{"custom_id": f"q{i}", "prompt": "hi"} for i in range(4)])
        emu.advance(50)
        cancelled = provider.cancel(job.snapshot.id)
        assert cancelled.status is BatchStatus.CANCELLED
        assert (cancelled.request_counts.succeeded, cancelled.request_counts.canceled) == (2, 2)
        results = job.collect()
        statuses = sorted(result.status.value for result in results.results)
        assert statuses == ["canceled", "canceled", "succeeded", "succeeded"]


def test_an_expired_batch_reads_the_unrun_requests_from_its_input_file() -> None:
    with Emulator(api_key=API_KEY, time_scale=0, processing_seconds=200_000) as emu:
        provider = _provider(emu)
        job = _submit(provider, [{"custom_id": "a", "prompt": "hi"}])
        emu.advance(86_400)
        ended = provider.retrieve(job.snapshot.id)
        assert ended.status is BatchStatus.EXPIRED
        items = list(provider.results(ended))  # no custom_ids: read from the input file
        assert [(r.custom_id, r.status) for r in items[:-1]] == [("a", ResultStatus.EXPIRED)]
        assert items[-1].request_counts.expired == 1  # type: ignore[union-attr]


def test_a_failed_batch_errors_every_request_with_its_reason(emu: Emulator) -> None:
    provider = _provider(emu)
    encoded = [b'{"custom_id": "a", "body": {"messages": []}}']
    created = provider.create(encoded, digest="0" * 64)
    ended = provider.retrieve(created.id)
    assert ended.status is BatchStatus.FAILED
    assert [p.message for p in ended.errors] == ["Line 1: body.model is required."]
    items = list(provider.results(ended))
    result = items[0]
    assert result.status is ResultStatus.ERRORED  # type: ignore[union-attr]
    assert "body.model is required" in result.error.message  # type: ignore[union-attr]


def test_list_batches_newest_first_down_to_a_time(emu: Emulator) -> None:
    provider = _provider(emu)
    ids = []
    for _ in range(3):
        ids.append(_submit(provider, [{"prompt": "hi"}]).snapshot.id)
        emu.advance(10)
    listed = [snapshot.id for snapshot in provider.list_batches()]
    assert listed == ids[::-1]
    cut = provider.retrieve(ids[1]).created_at
    assert [s.id for s in provider.list_batches(created_after=cut)] == ids[:0:-1]


def test_a_lost_create_is_found_by_its_digest(emu: Emulator) -> None:
    provider = _provider(emu)
    built = build_parts(provider, MODEL, [{"prompt": "a"}, {"prompt": "b"}])
    other = build_parts(provider, MODEL, [{"prompt": "c"}, {"prompt": "d"}])
    provider.create(other.parts[0].encoded, digest=other.parts[0].digest)  # same size
    fault = Fault(route="together.batches.create", truncate_after_bytes=5, after_create=True)
    emu.add_fault(fault)
    with pytest.raises(SubmissionOutcomeUnknown) as lost:
        _provider(emu, sleep=lambda _: None).create(
            built.parts[0].encoded, digest=built.parts[0].digest
        )
    assert lost.value.digest == built.parts[0].digest
    assert emu.calls["together.batches.create"] == 2  # sent once: never resent
    found = find_lost_batch(
        _provider(emu),  # a new process: knows nothing of the upload
        request_count=2,
        attempted_at=lost.value.attempted_at,
        digest=built.parts[0].digest,
    )
    assert len(found) == 1 and found[0].digest == built.parts[0].digest


def test_past_the_limits_a_batch_is_split_into_parts(emu: Emulator) -> None:
    provider = _provider(emu, limits=BatchLimits(max_requests=2, max_bytes=10**6))
    job = _submit(provider, [{"custom_id": f"q{i}", "prompt": "hi"} for i in range(5)])
    assert len(job.snapshot.parts or [job.snapshot]) == 3
    job.wait(poll_interval=0.01)
    assert len(job.collect()) == 5


def test_a_wrong_key_never_appears_in_the_error() -> None:
    with Emulator(api_key="the-right-key", time_scale=0) as emu:
        secret = "tgp-wrong-0123456789abcdefghij"
        provider = TogetherProvider(api_key=secret, base_url=emu.base_url_for("together"))
        with pytest.raises(ProviderError) as refused:
            list(provider.list_batches())
        assert refused.value.status_code == 401
        assert secret not in str(refused.value) and secret not in repr(provider)


def test_bad_ids_are_refused_before_any_call(emu: Emulator) -> None:
    from batchwork_prefect import UnsafeURLError

    provider = _provider(emu)
    for bad in ("../files", "a/b", "x?y"):
        with pytest.raises(UnsafeURLError):
            provider.retrieve(bad)
    assert sum(emu.calls.values()) == 0


def test_created_after_rounding_is_not_needed(emu: Emulator) -> None:
    # Together keeps creation times in microseconds: a batch made right after the
    # cut-off time is listed, one made before is not
    provider = _provider(emu)
    made = _submit(provider, [{"prompt": "hi"}]).snapshot
    assert made.created_at is not None
    after = [s.id for s in provider.list_batches(created_after=made.created_at)]
    later = [
        s.id for s in provider.list_batches(created_after=made.created_at + timedelta(seconds=1))
    ]
    assert (after, later) == ([made.id], [])


def test_the_public_calls_take_together_by_name(emu: Emulator) -> None:
    from batchwork_prefect import batch, get_batch, list_batches

    base_url = emu.base_url_for("together")
    job = batch(
        f"together/{MODEL}",
        [{"custom_id": "fr", "prompt": "Capital of France? One word."}],
        api_key=API_KEY,
        base_url=base_url,
    )
    assert job.wait(poll_interval=0.01).status is BatchStatus.COMPLETED
    assert job.collect()["fr"].text == "Paris"
    with get_batch(job.id, "together", api_key=API_KEY, base_url=base_url) as found:
        assert [r.text for r in found.results()] == ["Paris"]
    listed = list_batches("together", api_key=API_KEY, base_url=base_url)
    assert [snapshot.id for snapshot in listed] == [job.id]


def test_the_key_and_base_url_come_from_the_environment(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOGETHER_BASE_URL", raising=False)
    monkeypatch.setenv("TOGETHER_API_KEY", API_KEY)
    assert TogetherProvider().base_url.rstrip("/") == "https://api.together.ai"
    monkeypatch.setenv("TOGETHER_BASE_URL", emu.base_url_for("together"))
    assert list(TogetherProvider().list_batches()) == []
    assert emu.requests_received[-1][1]["authorization"] == f"Bearer {API_KEY}"


def test_a_batch_made_elsewhere_has_no_digest_and_counts_by_its_results(emu: Emulator) -> None:
    import httpx

    base_url = emu.base_url_for("together")
    headers = {"authorization": f"Bearer {API_KEY}"}
    line = orjson.dumps(
        {"custom_id": "x", "body": {"model": "m", "messages": [{"role": "user", "content": "hi"}]}}
    )
    with httpx.Client(base_url=base_url, headers=headers) as client:
        file_id = client.post(
            "/v1/files/upload",
            data={"purpose": "batch-api", "file_name": "mine.jsonl"},
            files={"file": ("mine.jsonl", line)},
        ).json()["id"]
        job = client.post(
            "/v1/batches", json={"input_file_id": file_id, "endpoint": "/v1/chat/completions"}
        ).json()["job"]
    provider = _provider(emu)
    seen = provider.retrieve(job["id"])
    assert (seen.digest, seen.request_counts.total) == (None, 0)
    *results, settled = provider.results(seen)
    assert [r.custom_id for r in results] == ["x"]  # type: ignore[union-attr]
    assert settled.request_counts.total == 1  # type: ignore[union-attr]


def test_a_key_echoed_in_an_error_body_is_scrubbed(emu: Emulator) -> None:
    secret = API_KEY
    body = {"error": {"message": f"Invalid API key {secret}", "type": "invalid_request_error"}}
    emu.add_fault(Fault(route="together.batches.list", status=401, body=orjson.dumps(body)))
    with pytest.raises(ProviderError) as refused:
        list(_provider(emu, max_retries=0).list_batches())
    assert secret not in str(refused.value) and "<redacted>" in str(refused.value)


def test_a_deleted_input_file_leaves_the_batch_readable(emu: Emulator) -> None:
    import httpx

    provider = _provider(emu)
    job = _submit(provider, [{"custom_id": "a", "prompt": "hi"}])
    file_id = emu_file_of(emu, job.snapshot.id)
    headers = {"authorization": f"Bearer {API_KEY}"}
    url = f"{emu.base_url_for('together')}/v1/files/{file_id}"
    assert httpx.delete(url, headers=headers).status_code == 200
    seen = _provider(emu).retrieve(job.snapshot.id)
    assert (seen.status, seen.digest) == (BatchStatus.COMPLETED, None)
    assert [r.custom_id for r in job.collect().results] == ["a"]


def emu_file_of(emu: Emulator, batch_id: str) -> str:
    import httpx

    headers = {"authorization": f"Bearer {API_KEY}"}
    url = f"{emu.base_url_for('together')}/v1/batches/{batch_id}"
    file_id: str = httpx.get(url, headers=headers).json()["input_file_id"]
    return file_id
