"""The Mistral provider end to end through batch() / BatchJob, over loopback HTTP to the
emulator's Mistral routes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from batchwork_prefect import (
    BatchLimits,
    BatchStatus,
    ConfigurationError,
    ProviderError,
    ResultStatus,
    SubmissionOutcomeUnknown,
    UnsafeURLError,
    batch,
    get_batch,
    list_batches,
)
from batchwork_prefect.core import build_parts
from batchwork_prefect.core.reconcile import find_lost_batch
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.providers.mistral import MistralProvider, encode_request
from tests.support import API_KEY
from tests.support.shapes import result_shape

MODEL = "mistral/mistral-small-latest"
DAY = 86_400.0
MIXED = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "bad", "prompt": "x [[emulate:errored]]"},
    {"custom_id": "late", "prompt": "x [[emulate:expired]]"},
    {"custom_id": "stop", "prompt": "x [[emulate:canceled]]"},
]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, time_scale=0) as server:
        yield server


def _base(emu: Emulator) -> str:
    return emu.base_url_for("mistral")


def _batch(emu: Emulator, requests: list[dict[str, Any]], **options: Any) -> Any:
    return batch(MODEL, requests, api_key=API_KEY, base_url=_base(emu), **options)


def _provider(emu: Emulator, **options: Any) -> MistralProvider:
    return MistralProvider(api_key=API_KEY, base_url=_base(emu), **options)


def test_capital_cities(emu: Emulator) -> None:
    job = _batch(
        emu,
        [
            {"custom_id": "fr", "prompt": "Capital of France? One word."},
            {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
        ],
        defaults={"max_tokens": 16, "system": "Answer briefly."},
    )
    assert job.provider == "mistral"
    assert emu.calls["mistral.files.create"] == 1 and emu.calls["mistral.jobs.create"] == 1
    assert job.wait(poll_interval=0.01).status is BatchStatus.COMPLETED
    results = job.collect()
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert results["fr"].message is not None
    assert results["fr"].message["object"] == "chat.completion"
    assert results.usage.input_tokens > 0 and results.usage.output_tokens > 0


def test_the_job_names_the_model_endpoint_metadata_and_timeout(emu: Emulator) -> None:
    job = _batch(emu, [{"custom_id": "fr", "prompt": "hi", "max_tokens": 9}])
    provider = _provider(emu)
    body = orjson.loads(provider._get_job(job.id).content)
    assert (body["model"], body["endpoint"]) == ("mistral-small-latest", "/v1/chat/completions")
    assert body["metadata"] == {
        "batchwork_digest": job.snapshot.digest,
        "batchwork_requests": "1",
    }
    uploaded = provider._transport.request(
        "GET", provider._transport.url(f"/v1/files/{body['input_files'][0]}/content"), retry=None
    ).content
    assert [orjson.loads(line) for line in uploaded.splitlines()] == [
        {
            "custom_id": "fr",
            "body": {
                "model": "mistral-small-latest",
                "max_tokens": 9,
                "messages": [{"role": "user", "content": "hi"}],
            },
        }
    ]


def test_an_errored_request_has_its_error(emu: Emulator) -> None:
    job = _batch(emu, MIXED[:2])
    job.wait(poll_interval=0.01)
    results = job.collect()
    assert {r.custom_id: r.status for r in results.values()} == {
        "fr": ResultStatus.SUCCEEDED,
        "bad": ResultStatus.ERRORED,
    }
    errored = results["bad"].error
    assert errored is not None
    assert (errored.type, errored.status_code) == ("internal_server_error", 500)


def test_a_job_that_times_out_is_expired_and_keeps_what_finished(emu: Emulator) -> None:
    emu.settings.processing_seconds = 2 * DAY
    job = _batch(emu, MIXED[:2])
    assert job.poll().status is BatchStatus.IN_PROGRESS
    emu.advance(DAY + 1)
    snapshot = job.wait(poll_interval=0.01)
    assert (snapshot.status, snapshot.provider_status) == (BatchStatus.EXPIRED, "TIMEOUT_EXCEEDED")
    results = job.collect()
    assert {r.custom_id: r.status for r in results.values()} == {
        "fr": ResultStatus.EXPIRED,
        "bad": ResultStatus.EXPIRED,
    }


def test_a_cancelled_job(emu: Emulator) -> None:
    emu.settings.processing_seconds = 60
    emu.settings.cancel_seconds = 5
    job = _batch(emu, MIXED[:2])
    assert job.cancel().status is BatchStatus.CANCELLING
    emu.advance(5)
    snapshot = job.wait(poll_interval=0.01)
    assert (snapshot.status, snapshot.provider_status) == (BatchStatus.CANCELLED, "CANCELLED")
    assert set(job.collect().counts.items()) >= {(ResultStatus.CANCELED, 2)}


def test_a_failed_job_errors_every_request_with_its_errors(emu: Emulator) -> None:
    provider = _provider(emu)
    lines = [encode_request("a", {"model": "m", "messages": [{"role": "user", "content": "x"}]})]
    lines.append(b'{"custom_id": "a", "body": {"model": "m", "messages": []}}')
    created = provider.create(lines, digest="f" * 64)
    snapshot = provider.retrieve(created.id)
    assert snapshot.status is BatchStatus.FAILED
    assert [problem.message for problem in snapshot.errors] == [
        "A custom_id is used by more than one request."
    ]
    results = list(provider.results(snapshot, custom_ids=["a", "a2"]))
    assert [
        (r.custom_id, r.status) for r in results if not isinstance(r, (bytes, type(snapshot)))
    ] == [
        ("a", ResultStatus.ERRORED),
        ("a2", ResultStatus.ERRORED),
    ]


def test_parts_past_the_limits_are_one_job(emu: Emulator) -> None:
    requests = [{"custom_id": f"r{i}", "prompt": "Capital of Japan? One word."} for i in range(5)]
    job = _batch(emu, requests, limits=BatchLimits(max_requests=2, max_bytes=10_000))
    assert len(job.ids) == 3 and emu.calls["mistral.jobs.create"] == 3
    job.wait(poll_interval=0.01)
    assert job.collect().texts() == {f"r{i}": "Tokyo" for i in range(5)}


def test_a_create_answered_with_500_is_not_resent_and_is_found_by_its_digest(
    emu: Emulator,
) -> None:
    _batch(emu, [{"custom_id": "other", "prompt": "same size"}])  # a same-size neighbour
    emu.add_fault(Fault(route="mistral.jobs.create", status=500, after_create=True))
    provider = _provider(emu)
    built = build_parts(provider, "mistral-small-latest", [{"custom_id": "x", "prompt": "lost"}])
    part = built.parts[0]
    attempted_at = datetime.now(UTC)
    with pytest.raises(ProviderError) as caught:
        provider.create(part.encoded, digest=part.digest)
    assert caught.value.status_code == 500
    assert emu.calls["mistral.jobs.create"] == 2  # the neighbour's, and this one, once
    found = find_lost_batch(
        provider, request_count=1, attempted_at=attempted_at, digest=part.digest
    )
    assert len(found) == 1 and found[0].digest == part.digest


def test_a_lost_create_answer_is_an_unknown_outcome_naming_the_digest(emu: Emulator) -> None:
    emu.add_fault(Fault(route="mistral.jobs.create", truncate_after_bytes=5, after_create=True))
    provider = _provider(emu, sleep=lambda _: None)
    with pytest.raises(SubmissionOutcomeUnknown) as caught:
        provider.create([encode_request("a", {"model": "m", "messages": []})], digest="e" * 64)
    lost = caught.value
    assert lost.digest == "e" * 64 and lost.request_count == 1
    assert emu.calls["mistral.jobs.create"] == 1
    found = find_lost_batch(
        provider, request_count=1, attempted_at=lost.attempted_at, digest=lost.digest
    )
    assert [job.digest for job in found] == [lost.digest]


def test_a_failed_upload_is_retried_and_makes_no_job_twice(emu: Emulator) -> None:
    emu.add_fault(Fault(route="mistral.files.create", status=503, times=2))
    provider = _provider(emu, sleep=lambda _: None)
    provider.create([encode_request("a", {"model": "m", "messages": []})], digest="d")
    assert emu.calls["mistral.files.create"] == 3 and emu.calls["mistral.jobs.create"] == 1


def test_a_cut_results_stream_is_resumed(emu: Emulator) -> None:
    requests = [{"custom_id": f"r{i}", "prompt": "Capital of France? One word."} for i in range(40)]
    job = _batch(emu, requests)
    job.wait(poll_interval=0.01)
    emu.add_fault(Fault(route="mistral.files.content", truncate_after_bytes=3000))
    assert job.collect().texts() == {f"r{i}": "Paris" for i in range(40)}
    assert emu.calls["mistral.files.content"] == 2


def test_get_and_list_batches(emu: Emulator) -> None:
    ids = [_batch(emu, [{"custom_id": "a", "prompt": str(i)}]).id for i in range(3)]
    found = get_batch(ids[0], provider="mistral", api_key=API_KEY, base_url=_base(emu))
    assert found.id == ids[0]
    listed = list_batches("mistral", api_key=API_KEY, base_url=_base(emu))
    assert [snapshot.id for snapshot in listed] == ids[::-1]
    created = found.snapshot.created_at
    assert created is not None
    later = list_batches(
        "mistral",
        created_after=created + timedelta(seconds=1),
        api_key=API_KEY,
        base_url=_base(emu),
    )
    assert list(later) == []


def test_list_batches_pages_by_number(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("batchwork_prefect.providers.mistral.provider.PAGE_SIZE", 2)
    ids = [_batch(emu, [{"custom_id": "a", "prompt": str(i)}]).id for i in range(5)]
    found = [snapshot.id for snapshot in _provider(emu).list_batches()]
    assert found == ids[::-1]
    assert emu.calls["mistral.jobs.list"] == 3


@pytest.mark.parametrize("bad", ["batch_abc", "../v1/files", "fe3343a2"])
def test_an_id_that_is_not_a_uuid_is_refused_before_any_request(emu: Emulator, bad: str) -> None:
    with pytest.raises(UnsafeURLError, match="UUID"):
        get_batch(bad, provider="mistral", api_key=API_KEY, base_url=_base(emu))
    assert sum(emu.calls.values()) == 0


def test_env_vars_and_the_default_base_url(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", API_KEY)
    monkeypatch.setenv("MISTRAL_BASE_URL", _base(emu))
    job = batch(MODEL, [{"custom_id": "a", "prompt": "hi"}])
    assert emu.calls["mistral.jobs.create"] == 1
    assert emu.requests_received[-1][1]["authorization"] == f"Bearer {API_KEY}"
    job.close()
    monkeypatch.delenv("MISTRAL_BASE_URL")
    provider = MistralProvider()
    assert repr(provider) == "MistralProvider(base_url='https://api.mistral.ai')"
    assert API_KEY not in repr(provider)
    monkeypatch.delenv("MISTRAL_API_KEY")
    with pytest.raises(ConfigurationError, match="MISTRAL_API_KEY"):
        MistralProvider()


def test_a_wrong_key_is_refused_and_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-key-0123456789abcdefghij"
    with Emulator(api_key=API_KEY) as server, pytest.raises(ProviderError) as caught:
        batch(MODEL, [{"prompt": "x"}], api_key=wrong, base_url=server.base_url_for("mistral"))
    assert caught.value.status_code == 401
    for text in (str(caught.value), repr(caught.value), caplog.text):
        assert wrong not in text


def test_a_key_in_an_error_line_is_scrubbed(emu: Emulator) -> None:
    provider = _provider(emu)
    line = orjson.dumps(
        {
            "custom_id": "a",
            "response": {"status_code": 401, "body": {"message": f"bad key {API_KEY}"}},
            "error": None,
        }
    )
    from batchwork_prefect.providers.mistral import parse_result_line

    result = parse_result_line(line, scrub=provider._transport.scrub)
    assert result is not None and result.error is not None
    assert API_KEY not in result.error.message and "<redacted>" in result.error.message


def test_what_mistral_cannot_take_is_refused_before_anything_is_sent(emu: Emulator) -> None:
    from batchwork_prefect import InvalidBatchError

    with pytest.raises(InvalidBatchError, match="top_k"):
        _batch(emu, [{"custom_id": "a", "prompt": "hi", "top_k": 3}])
    assert sum(emu.calls.values()) == 0


def test_the_same_shape_as_anthropic(emu: Emulator) -> None:
    requests = MIXED[:2]
    job = _batch(emu, requests)
    job.wait(poll_interval=0.01)
    anthropic = batch("anthropic/claude-x", requests, api_key=API_KEY, base_url=emu.base_url)
    anthropic.wait(poll_interval=0.01)
    assert result_shape(job.collect()) == result_shape(anthropic.collect())


def test_a_job_made_while_paging_shifts_the_pages_and_none_is_given_twice(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("batchwork_prefect.providers.mistral.provider.PAGE_SIZE", 2)
    ids = [_batch(emu, [{"custom_id": "a", "prompt": str(i)}]).id for i in range(3)]
    listing = _provider(emu).list_batches()
    first_page = [next(listing).id, next(listing).id]
    newer = _batch(emu, [{"custom_id": "a", "prompt": "new"}]).id
    rest = [snapshot.id for snapshot in listing]
    assert first_page == ids[:0:-1]
    assert rest == [ids[0]]  # page 1 now starts with ids[1], seen on page 0
    assert newer not in first_page + rest


def test_an_error_answer_gives_mistral_s_message_and_type(emu: Emulator) -> None:
    job = _batch(emu, [{"custom_id": "a", "prompt": "hi"}])
    job.wait(poll_interval=0.01)
    with pytest.raises(ProviderError) as caught:
        _provider(emu).cancel(job.id)
    error = caught.value
    assert error.status_code == 400 and error.error_type == "invalid_request_error"
    assert f"Job {job.id} is SUCCESS and cannot be cancelled." in str(error)


def test_get_batch_reads_the_unrun_ids_from_the_job_s_input_file(emu: Emulator) -> None:
    emu.settings.processing_seconds = 60
    job = _batch(emu, MIXED[:2])
    job.cancel()
    found = get_batch(job.id, provider="mistral", api_key=API_KEY, base_url=_base(emu))
    found.wait(poll_interval=0.01)
    assert {r.custom_id: r.status for r in found.results()} == {
        "fr": ResultStatus.CANCELED,
        "bad": ResultStatus.CANCELED,
    }
    assert emu.calls["mistral.files.content"] == 1  # the input file; no output or error file
