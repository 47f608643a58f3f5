"""The gemini provider end to end, over loopback HTTP to the emulator's Gemini API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from batchwork_prefect import (
    BatchLimits,
    BatchStatus,
    ProviderError,
    ResultStatus,
    SubmissionOutcomeUnknown,
)
from batchwork_prefect.core import BatchJob, build_parts, submit_built
from batchwork_prefect.core.reconcile import find_lost_batch
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.errors import ConfigurationError, UnsafeURLError
from batchwork_prefect.models import BatchRequest
from batchwork_prefect.providers.gemini import (
    FAILED_TYPE,
    GeminiProvider,
    encode_request,
    request_params,
)
from batchwork_prefect.providers.gemini import provider as gemini_provider
from tests.support import API_KEY

MODEL = "gemini-2.5-flash"
DAY = 86_400.0


def _capital(body: dict[str, Any]) -> str:
    prompt = str(body)  # the request as the emulator hands it to its reply hook
    return "Paris" if "France" in prompt else "Tokyo" if "Japan" in prompt else "?"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, time_scale=0, reply_text=_capital) as server:
        yield server


def _url(emu: Emulator) -> str:
    return emu.base_url_for("gemini")


def _provider(emu: Emulator, **options: Any) -> GeminiProvider:
    return GeminiProvider(api_key=API_KEY, base_url=_url(emu), **options)


def _job(emu: Emulator, requests: list[dict[str, Any]], **options: Any) -> BatchJob:
    limits = options.pop("limits", None)
    provider = _provider(emu)
    built = build_parts(provider, MODEL, requests, options.pop("defaults", None), limits=limits)
    return submit_built(provider, built, limits)


def _line(custom_id: str, prompt: str) -> bytes:
    return encode_request(custom_id, request_params(MODEL, BatchRequest(prompt=prompt), {}))


def test_capital_cities_inline(emu: Emulator) -> None:
    job = _job(
        emu,
        [
            {"custom_id": "fr", "prompt": "Capital of France? One word."},
            {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
        ],
        defaults={"max_tokens": 16, "system": "Answer briefly."},
    )
    assert job.id.startswith("batches/")
    assert job.snapshot.provider == "gemini"
    assert job.wait(poll_interval=0.01).status is BatchStatus.COMPLETED
    results = job.collect()
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    message = results["fr"].message
    assert message is not None and message["candidates"][0]["content"]["role"] == "model"
    usage = results["fr"].usage
    assert usage is not None and usage.input_tokens > 0 and usage.output_tokens > 0
    assert emu.calls["gemini.files.upload"] == 0  # inline: no file
    assert emu.calls["gemini.batches.create"] == 1


def test_past_the_inline_limit_the_requests_go_as_an_uploaded_file(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gemini_provider, "INLINE_MAX_BYTES", 100)
    job = _job(emu, [{"custom_id": f"r{i}", "prompt": "France?"} for i in range(3)])
    assert emu.calls["gemini.files.upload"] == 1  # the resumable upload's start
    assert emu.calls["gemini.files.upload_session"] == 1  # its bytes, with finalize
    job.wait(poll_interval=0.01)
    assert job.collect().texts() == {"r0": "Paris", "r1": "Paris", "r2": "Paris"}
    assert emu.calls["gemini.files.download"] == 1  # the responses file


def test_mixed_outcomes_each_have_their_status(emu: Emulator) -> None:
    job = _job(
        emu,
        [
            {"custom_id": "fr", "prompt": "France?"},
            {"custom_id": "bad", "prompt": "x [[emulate:errored]]"},
        ],
    )
    job.wait(poll_interval=0.01)
    results = job.collect()
    assert results["fr"].status is ResultStatus.SUCCEEDED
    bad = results["bad"]
    assert bad.status is ResultStatus.ERRORED and bad.error is not None
    assert bad.error.type == "INTERNAL" and bad.error.message


def test_a_cancelled_batch_reads_its_unrun_requests_as_canceled(emu: Emulator) -> None:
    emu.settings.processing_seconds = 600
    emu.settings.cancel_seconds = 30
    job = _job(emu, [{"custom_id": "a", "prompt": "France?"}, {"custom_id": "b", "prompt": "x"}])
    assert job.cancel().status is BatchStatus.VALIDATING  # no cancelling state: as it was
    emu.advance(31)
    assert job.wait(poll_interval=0.01).status is BatchStatus.CANCELLED
    results = job.collect()
    assert [r.status for r in results.values()] == [ResultStatus.CANCELED] * 2


def test_an_expired_batch_reads_every_request_as_expired(emu: Emulator) -> None:
    emu.settings.processing_seconds = 2 * DAY
    job = _job(emu, [{"custom_id": f"q{i}", "prompt": f"Question {i}"} for i in range(4)])
    emu.advance(DAY + 1)
    assert job.wait(poll_interval=0.01).status is BatchStatus.EXPIRED
    results = job.collect()
    assert [r.status for r in results.values()] == [ResultStatus.EXPIRED] * 4


def test_parts_past_the_limits_are_one_job(emu: Emulator) -> None:
    requests = [{"custom_id": f"r{i}", "prompt": "Japan?"} for i in range(5)]
    job = _job(emu, requests, limits=BatchLimits(max_requests=2, max_bytes=10_000))
    assert len(job.ids) == 3
    job.wait(poll_interval=0.01)
    assert job.collect().texts() == {f"r{i}": "Tokyo" for i in range(5)}


def test_a_create_answered_with_500_is_not_resent_and_is_found_by_its_digest(
    emu: Emulator,
) -> None:
    _job(emu, [{"custom_id": "other", "prompt": "same size"}])  # a same-size neighbour
    emu.add_fault(Fault(route="gemini.batches.create", status=500, after_create=True))
    provider = _provider(emu)
    part = build_parts(provider, MODEL, [{"custom_id": "x", "prompt": "lost"}]).parts[0]
    attempted_at = datetime.now(UTC)
    with pytest.raises(ProviderError) as caught:
        provider.create(part.encoded, digest=part.digest)
    assert caught.value.status_code == 500
    assert emu.calls["gemini.batches.create"] == 2  # the neighbour's, and this one, once
    found = find_lost_batch(
        provider, request_count=1, attempted_at=attempted_at, digest=part.digest
    )
    assert len(found) == 1 and found[0].digest == part.digest
    by_size = find_lost_batch(provider, request_count=1, attempted_at=attempted_at)
    assert len(by_size) == 2  # what size and time alone would have had to choose from


def test_a_lost_create_answer_is_an_unknown_outcome_naming_the_digest(emu: Emulator) -> None:
    emu.add_fault(Fault(route="gemini.batches.create", truncate_after_bytes=5, after_create=True))
    provider = _provider(emu, sleep=lambda _: None)
    with pytest.raises(SubmissionOutcomeUnknown) as caught:
        provider.create([_line("a", "hi")], digest="e" * 64)
    lost = caught.value
    assert lost.digest == "e" * 64 and lost.request_count == 1
    assert emu.calls["gemini.batches.create"] == 1
    found = find_lost_batch(
        provider, request_count=1, attempted_at=lost.attempted_at, digest=lost.digest
    )
    assert [batch.digest for batch in found] == [lost.digest]


def test_a_cut_responses_file_is_resumed(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gemini_provider, "INLINE_MAX_BYTES", 100)
    job = _job(emu, [{"custom_id": f"r{i}", "prompt": "France?"} for i in range(20)])
    job.wait(poll_interval=0.01)
    emu.add_fault(Fault(route="gemini.files.download", truncate_after_bytes=700))
    assert len(job.collect()) == 20
    assert emu.calls["gemini.files.download"] == 2


def test_list_pages_through_every_batch(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gemini_provider, "PAGE_SIZE", 2)
    provider = _provider(emu)
    made = {provider.create([_line("a", f"q{i}")], digest=str(i) * 64).id for i in range(3)}
    assert {batch.id for batch in provider.list_batches()} == made
    assert emu.calls["gemini.batches.list"] == 2


def test_delete_forgets_the_batch(emu: Emulator) -> None:
    provider = _provider(emu)
    created = provider.create([_line("a", "France?")], digest="a" * 64)
    provider.delete(created.id)
    with pytest.raises(ProviderError) as caught:
        provider.retrieve(created.id)
    assert caught.value.status_code == 404


def test_the_key_goes_as_x_goog_api_key_only(emu: Emulator) -> None:
    _job(emu, [{"custom_id": "a", "prompt": "France?"}])
    assert emu.requests_received
    for _, headers in emu.requests_received:
        assert headers["x-goog-api-key"] == API_KEY
        assert "authorization" not in headers


def test_google_api_key_wins_over_gemini_api_key_as_in_the_sdk(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", API_KEY)
    monkeypatch.setenv("GEMINI_API_KEY", "not-this-one")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", _url(emu))
    provider = GeminiProvider()
    assert provider.base_url == _url(emu)
    provider.create([_line("a", "France?")], digest="a" * 64)  # the emulator checks the key
    monkeypatch.delenv("GOOGLE_API_KEY")
    monkeypatch.setenv("GEMINI_API_KEY", API_KEY)
    GeminiProvider().create([_line("b", "France?")], digest="b" * 64)


def test_no_key_is_a_configuration_error_naming_both_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match=r"GEMINI_API_KEY.*GOOGLE_API_KEY"):
        GeminiProvider()


def test_the_default_base_url_is_googles_and_the_key_stays_out_of_repr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL", raising=False)
    provider = GeminiProvider(api_key="secret-key-1")
    assert provider.base_url == "https://generativelanguage.googleapis.com"
    assert "secret-key-1" not in repr(provider)


def test_a_failed_batch_errors_every_request_with_its_error(emu: Emulator) -> None:
    job = _job(emu, [{"custom_id": "a", "prompt": "x [[emulate:batch_failed]]"}])
    snapshot = job.wait(poll_interval=0.01)
    assert snapshot.status is BatchStatus.FAILED
    assert snapshot.errors and snapshot.errors[0].code == "INTERNAL"
    error = job.collect()["a"].error
    assert error is not None and error.type == FAILED_TYPE
    assert snapshot.errors[0].message in error.message


def test_api_key_given_wins_over_the_environment(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "not-this-one")
    monkeypatch.setenv("GEMINI_API_KEY", "nor-this-one")
    _provider(emu).create([_line("a", "France?")], digest="a" * 64)  # the emulator checks it


def test_an_upload_url_off_the_api_origin_is_refused_before_the_bytes_go(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Google's side answering the upload start with another origin: nothing else is sent.
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        return httpx.Response(200, headers={"x-goog-upload-url": "https://elsewhere.example/up"})

    monkeypatch.setattr(gemini_provider, "INLINE_MAX_BYTES", 10)
    provider = GeminiProvider(
        api_key="k-123",
        base_url="https://generativelanguage.googleapis.com",
        client=httpx.Client(transport=httpx.MockTransport(answer)),
    )
    with pytest.raises(UnsafeURLError, match="not on the configured API origin"):
        provider.create([_line("a", "France?")], digest="a" * 64)
    assert sent == ["https://generativelanguage.googleapis.com/upload/v1beta/files"]
