"""Retries, error mapping and the create request's outcome, over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from batchwork_prefect import (
    BatchStatus,
    ConfigurationError,
    ProviderError,
    SubmissionOutcomeUnknown,
    TransportError,
    batch,
    list_batches,
)
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.providers.anthropic import AnthropicProvider, encode_request
from harness.ports import free_port
from tests.support import API_KEY

MODEL = "anthropic/claude-opus-4-8"
ENTRY = encode_request(
    "a", {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
)


def _provider(emulator: Emulator, sleeps: list[float], **options: object) -> AnthropicProvider:
    return AnthropicProvider(
        api_key=API_KEY,
        base_url=emulator.base_url,
        sleep=sleeps.append,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("status", [408, 409, 429, 500, 503, 529])
def test_transient_statuses_on_retrieve_are_retried(emulator: Emulator, status: int) -> None:
    sleeps: list[float] = []
    provider = _provider(emulator, sleeps)
    created = provider.create([ENTRY], digest="d")
    emulator.add_fault(Fault(route="retrieve", status=status, times=2))
    assert provider.retrieve(created.id).id == created.id
    assert emulator.calls["retrieve"] == 3
    assert len(sleeps) == 2


def test_retry_after_headers_are_honoured(emulator: Emulator) -> None:
    sleeps: list[float] = []
    provider = _provider(emulator, sleeps)
    created = provider.create([ENTRY], digest="d")
    emulator.add_fault(Fault(route="retrieve", status=429, retry_after=7))
    emulator.add_fault(Fault(route="retrieve", status=529, retry_after_ms=1500))
    emulator.add_fault(Fault(route="retrieve", status=429, retry_after=3600))
    provider.retrieve(created.id)
    assert sleeps == [7.0, 1.5, 60.0]


def test_retries_give_up_with_the_provider_error(emulator: Emulator) -> None:
    sleeps: list[float] = []
    provider = _provider(emulator, sleeps, max_retries=2)
    created = provider.create([ENTRY], digest="d")
    emulator.add_fault(Fault(route="retrieve", status=500, times=3))
    with pytest.raises(ProviderError) as caught:
        provider.retrieve(created.id)
    error = caught.value
    assert error.status_code == 500
    assert error.error_type == "api_error"
    assert error.request_id is not None and error.request_id.startswith("req_")
    assert error.method == "GET" and created.id in error.url
    assert error.request_id in str(error) and "500" in str(error)
    assert emulator.calls["retrieve"] == 3


def test_x_should_retry_false_stops_retries(emulator: Emulator) -> None:
    sleeps: list[float] = []
    provider = _provider(emulator, sleeps)
    created = provider.create([ENTRY], digest="d")
    emulator.add_fault(Fault(route="retrieve", status=529, should_retry=False))
    with pytest.raises(ProviderError, match="overloaded_error"):
        provider.retrieve(created.id)
    assert sleeps == []


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried(emulator: Emulator, status: int) -> None:
    sleeps: list[float] = []
    provider = _provider(emulator, sleeps)
    created = provider.create([ENTRY], digest="d")
    emulator.add_fault(Fault(route="retrieve", status=status))
    with pytest.raises(ProviderError) as caught:
        provider.retrieve(created.id)
    assert caught.value.status_code == status
    assert emulator.calls["retrieve"] == 1


def test_unknown_batch_is_a_not_found_error(emulator: Emulator) -> None:
    provider = _provider(emulator, [])
    with pytest.raises(ProviderError) as caught:
        provider.retrieve("msgbatch_doesnotexist")
    assert (caught.value.status_code, caught.value.error_type) == (404, "not_found_error")


def test_create_is_retried_when_the_answer_proves_nothing_was_created(
    emulator: Emulator,
) -> None:
    sleeps: list[float] = []
    provider = _provider(emulator, sleeps)
    emulator.add_fault(Fault(route="create", status=529))
    emulator.add_fault(Fault(route="create", status=429, retry_after=2))
    snapshot = provider.create([ENTRY], digest="d")
    assert snapshot.status is BatchStatus.IN_PROGRESS
    assert emulator.calls["create"] == 3
    assert emulator.batches_created == 1
    assert sleeps[1] == 2.0
    creates = [headers for route, headers in emulator.requests_received if route == "create"]
    assert len(creates) == 3
    lengths = {headers.get("content-length") for headers in creates}
    assert lengths == {str(len(b'{"requests":[' + ENTRY + b"]}"))}  # the whole body, each time
    assert all("transfer-encoding" not in headers for headers in creates)


def test_non_json_error_body_is_reported_cleanly(emulator: Emulator) -> None:
    provider = _provider(emulator, [])
    emulator.add_fault(Fault(route="create", status=413, body=b"<html>413 Too Large</html>"))
    with pytest.raises(ProviderError) as caught:
        provider.create([ENTRY], digest="d")
    assert caught.value.status_code == 413
    assert caught.value.error_type is None
    assert emulator.batches_created == 0


def test_lost_create_answer_is_an_unknown_outcome_and_never_resent() -> None:
    with Emulator(api_key=API_KEY, create_delay_seconds=30) as emu:
        provider = AnthropicProvider(api_key=API_KEY, base_url=emu.base_url, timeout=0.5)
        with pytest.raises(SubmissionOutcomeUnknown) as caught:
            provider.create([ENTRY, ENTRY.replace(b'"a"', b'"b"')], digest="abc123")
        error = caught.value
        assert emu.calls["create"] == 1
        assert emu.batches_created == 1
        assert (error.request_count, error.digest, error.provider) == (2, "abc123", "anthropic")
        # What the error carries is enough to find the batch again.
        candidates = [
            snapshot
            for snapshot in list_batches(
                created_after=error.attempted_at, api_key=API_KEY, base_url=emu.base_url
            )
            if snapshot.request_counts.total == error.request_count
        ]
        assert len(candidates) == 1
        assert emu.calls["create"] == 1


def test_connection_refused_is_retried_then_a_transport_error() -> None:
    sleeps: list[float] = []
    provider = AnthropicProvider(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{free_port()}", sleep=sleeps.append
    )
    with pytest.raises(TransportError, match="could not connect"):
        provider.retrieve("msgbatch_x")
    assert len(sleeps) == provider._transport.max_retries
    # Nothing reached a server, so a create may be retried and fails the same clear way.
    with pytest.raises(TransportError, match="could not connect"):
        provider.create([ENTRY], digest="d")


def test_a_create_answered_500_is_not_resent(emulator: Emulator) -> None:
    # The batch may have been made before the error: resending could pay twice.
    emulator.add_fault(Fault(route="create", status=500, after_create=True))
    provider = _provider(emulator, [])
    with pytest.raises(ProviderError) as caught:
        provider.create([ENTRY], digest="d")
    assert caught.value.status_code == 500
    assert emulator.calls["create"] == 1
    assert emulator.batches_created == 1


def test_through_batch_with_real_backoff(emulator: Emulator) -> None:
    emulator.add_fault(Fault(route="create", status=529, retry_after_ms=1))
    emulator.add_fault(Fault(route="retrieve", status=500, retry_after_ms=1))
    emulator.add_fault(Fault(route="results", status=503, retry_after_ms=1))
    job = batch(MODEL, [{"prompt": "x"}], api_key=API_KEY, base_url=emulator.base_url)
    job.wait(poll_interval=0.01)
    assert len(job.collect()) == 1
    assert emulator.batches_created == 1
    assert (emulator.calls["create"], emulator.calls["retrieve"], emulator.calls["results"]) == (
        2,
        2,
        2,
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Length": "5"},
        {"transfer-encoding": "chunked"},
        {"Host": "api.example.com"},
        {"Content-Type": "text/plain"},
        {"Connection": "close"},
        {"X-Note": "café"},
        {"X-Note": "a\nb"},
    ],
)
def test_unsendable_caller_headers_are_a_configuration_error_not_a_maybe_sent(
    emulator: Emulator, headers: dict[str, str]
) -> None:
    with pytest.raises(ConfigurationError, match=repr(next(iter(headers)))):
        batch(
            MODEL, [{"prompt": "x"}], api_key=API_KEY, base_url=emulator.base_url, headers=headers
        )
    assert sum(emulator.calls.values()) == 0


def test_a_request_the_http_library_refuses_to_send_is_not_a_maybe_sent(
    emulator: Emulator,
) -> None:
    # A client's own default headers are not checked by us; h11 refuses this one before a
    # byte of the request goes out, so the create certainly did not happen.
    client = httpx.Client(headers={"X-Bad": "a\nb"})
    provider = AnthropicProvider(api_key=API_KEY, base_url=emulator.base_url, client=client)
    with pytest.raises(ConfigurationError, match="refused to send POST") as caught:
        provider.create([ENTRY], digest="d")
    assert not isinstance(caught.value, SubmissionOutcomeUnknown)
    assert emulator.calls["create"] == 0
    assert emulator.batches_created == 0


class _FailingOnce(httpx.BaseTransport):
    """Fails the first request with a write error after the given trace events, then lets the
    real transport send it; it stands for a connection lost while writing the request."""

    def __init__(self, events: list[str]) -> None:
        self._events = events
        self._real = httpx.HTTPTransport()
        self.failed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.failed:
            self.failed = True
            trace = request.extensions.get("trace")
            for event in self._events if trace else ():
                trace(event, {})
            raise httpx.WriteError("connection reset while writing")
        return self._real.handle_request(request)


def test_a_create_lost_while_its_headers_were_written_is_sent_again(emulator: Emulator) -> None:
    sleeps: list[float] = []
    flaky = _FailingOnce(["http11.send_request_headers.started"])
    provider = _provider(emulator, sleeps, client=httpx.Client(transport=flaky))
    snapshot = provider.create([ENTRY], digest="d")
    assert flaky.failed and len(sleeps) == 1
    assert snapshot.status is BatchStatus.IN_PROGRESS
    assert emulator.batches_created == 1


def test_a_create_lost_after_its_headers_went_out_stays_maybe_sent(emulator: Emulator) -> None:
    flaky = _FailingOnce(
        ["http11.send_request_headers.started", "http11.send_request_headers.complete"]
    )
    provider = _provider(emulator, [], client=httpx.Client(transport=flaky))
    with pytest.raises(SubmissionOutcomeUnknown):
        provider.create([ENTRY], digest="d")
    assert emulator.calls["create"] == 0  # nothing resent


def test_a_create_lost_without_trace_events_stays_maybe_sent(emulator: Emulator) -> None:
    provider = _provider(emulator, [], client=httpx.Client(transport=_FailingOnce([])))
    with pytest.raises(SubmissionOutcomeUnknown):
        provider.create([ENTRY], digest="d")
    assert emulator.calls["create"] == 0
