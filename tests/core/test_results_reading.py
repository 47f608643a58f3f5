"""Reading results: origin checks, cut streams, and integrity problems that must not vanish."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchwork_prefect import (
    BatchJob,
    ResultsIntegrityError,
    ResultsNotReadyError,
    TransportError,
    UnknownStatusError,
    UnsafeURLError,
    batch,
)
from batchwork_prefect.core import build_parts, submit_built
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.providers.anthropic import AnthropicProvider
from tests.support import API_KEY

MODEL = "anthropic/claude-opus-4-8"
REQUESTS = [{"custom_id": f"r{i}", "prompt": f"question number {i}"} for i in range(40)]


def _ended_job(emulator: Emulator, sleeps: list[float] | None = None) -> BatchJob:
    """A finished job whose provider records its backoff sleeps instead of sleeping."""
    provider = AnthropicProvider(
        api_key=API_KEY,
        base_url=emulator.base_url,
        sleep=(sleeps if sleeps is not None else []).append,
    )
    job = submit_built(provider, build_parts(provider, "claude-x", REQUESTS))
    job.wait(poll_interval=0.01)
    return job


def test_off_origin_results_url_is_refused_without_a_request() -> None:
    with (
        Emulator(api_key=API_KEY) as elsewhere,
        Emulator(api_key=API_KEY, results_origin=elsewhere.base_url) as emu,
    ):
        job = _ended_job(emu)
        with pytest.raises(UnsafeURLError, match="not on the configured API origin"):
            job.collect()
        assert elsewhere.calls["results"] == 0
        assert sum(elsewhere.calls.values()) == 0
        assert emu.calls["results"] == 0


def test_results_before_the_end_are_refused() -> None:
    with Emulator(api_key=API_KEY, processing_seconds=600) as emu:
        job = batch(MODEL, REQUESTS, api_key=API_KEY, base_url=emu.base_url)
        with pytest.raises(ResultsNotReadyError, match="in_progress"):
            job.collect()
        assert emu.calls["results"] == 0


def test_a_cut_stream_is_resumed_and_returns_everything(emulator: Emulator) -> None:
    sleeps: list[float] = []
    job = _ended_job(emulator, sleeps)
    emulator.add_fault(Fault(route="results", truncate_after_bytes=1500))
    emulator.add_fault(Fault(route="results", truncate_after_bytes=5000))
    results = job.collect()
    assert sorted(results.texts()) == sorted(f"r{i}" for i in range(40))
    assert emulator.calls["results"] == 3
    assert len(sleeps) == 2


def test_a_stream_that_keeps_breaking_fails_rather_than_returning_short(
    emulator: Emulator,
) -> None:
    sleeps: list[float] = []
    job = _ended_job(emulator, sleeps)
    emulator.add_fault(Fault(route="results", truncate_after_bytes=1000, times=20))
    with pytest.raises(TransportError, match="kept breaking"):
        job.collect()
    assert emulator.calls["results"] == 5
    assert len(sleeps) == 4


def test_streaming_results_is_lazy(emulator: Emulator) -> None:
    job = _ended_job(emulator)
    stream = job.results()
    first = next(stream)
    assert first.custom_id.startswith("r")
    rest = list(stream)
    assert len(rest) == 39


# Faults below are in the provider's answers themselves; a mock transport stages them.

BATCH = {
    "id": "msgbatch_mock",
    "type": "message_batch",
    "processing_status": "ended",
    "request_counts": {"processing": 0, "succeeded": 2, "errored": 0, "canceled": 0, "expired": 0},
    "created_at": "2026-11-01T00:00:00.000000Z",
    "ended_at": "2026-11-01T00:10:00.000000Z",
    "expires_at": "2026-11-02T00:00:00.000000Z",
    "archived_at": None,
    "cancel_initiated_at": None,
    "results_url": "https://api.example.com/v1/messages/batches/msgbatch_mock/results",
}


def _line(custom_id: str, text: str = "ok") -> bytes:
    message = {"content": [{"type": "text", "text": text}], "usage": {"input_tokens": 1}}
    return orjson.dumps(
        {"custom_id": custom_id, "result": {"type": "succeeded", "message": message}}
    )


def _mock_job(
    results_body: bytes,
    batch: dict[str, object] | None = None,
    custom_ids: list[str] | None = None,
    on_request: Callable[[httpx.Request], None] | None = None,
) -> BatchJob:
    body = batch or BATCH

    def handler(request: httpx.Request) -> httpx.Response:
        if on_request:
            on_request(request)
        if request.url.path.endswith("/results"):
            return httpx.Response(200, content=results_body)
        return httpx.Response(200, json=body)

    provider = AnthropicProvider(
        api_key=API_KEY,
        base_url="https://api.example.com",
        client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    snapshot = provider.retrieve("msgbatch_mock")
    return BatchJob(provider, [snapshot], custom_ids=[custom_ids] if custom_ids else None)


def test_blank_lines_are_skipped() -> None:
    job = _mock_job(b"\n" + _line("a") + b"\n\n\r\n" + _line("b") + b"\r\n")
    assert sorted(job.collect().texts()) == ["a", "b"]


def test_malformed_line_is_reported_and_nothing_is_lost() -> None:
    body = _line("a") + b"\n{not json\n" + _line("b") + b"\n"
    job = _mock_job(body, {**BATCH, "request_counts": {**BATCH["request_counts"], "succeeded": 3}})  # type: ignore[dict-item]
    with pytest.raises(ResultsIntegrityError) as caught:
        job.collect()
    error = caught.value
    assert error.bad_lines == [b"{not json"]
    assert error.partial is not None and sorted(error.partial.texts()) == ["a", "b"]
    assert any("line 2 is not a valid result" in problem for problem in error.problems)


def test_streaming_yields_every_good_result_then_raises() -> None:
    job = _mock_job(_line("a") + b"\ngarbage\n" + _line("b") + b"\n")
    seen: list[str] = []
    with pytest.raises(ResultsIntegrityError, match="not a valid result"):
        for result in job.results():
            seen.append(result.custom_id)
    assert seen == ["a", "b"]


def test_duplicate_custom_id_is_reported() -> None:
    job = _mock_job(_line("a", "first") + b"\n" + _line("a", "second") + b"\n")
    with pytest.raises(ResultsIntegrityError, match="repeats custom_id 'a'") as caught:
        job.collect()
    assert caught.value.partial is not None
    assert caught.value.partial["a"].text == "first"
    assert caught.value.bad_lines == [_line("a", "second")]  # the repeat is kept, not dropped


def _other_line(custom_id: str, kind: str) -> bytes:
    result: dict[str, object] = {"type": kind}
    if kind == "errored":
        result["error"] = {
            "type": "error",
            "error": {"type": "api_error", "message": "boom"},
            "request_id": "req_1",
        }
    return orjson.dumps({"custom_id": custom_id, "result": result})


@pytest.mark.parametrize("kind", ["errored", "canceled", "expired"])
def test_every_line_not_accepted_is_in_bad_lines_whatever_its_kind(kind: str) -> None:
    lines = [
        _other_line("a", kind),
        _line("b"),
        b"{broken",
        _line("a", "again"),  # a repeat of a's id with other content
        _other_line("b", kind),  # and of b's
        _other_line("a", kind),  # and an exact repeat
    ]
    job = _mock_job(b"\n".join(lines) + b"\n")
    with pytest.raises(ResultsIntegrityError) as caught:
        job.collect()
    error = caught.value
    assert error.bad_lines == lines[2:]
    assert error.partial is not None
    assert [result.custom_id for result in error.partial.values()] == ["a", "b"]
    assert error.partial["a"].status.value == kind and error.partial["b"].text == "ok"
    streamed: list[str] = []
    with pytest.raises(ResultsIntegrityError) as again:
        for result in job.results():
            streamed.append(result.custom_id)
    assert streamed == ["a", "b"]
    assert again.value.bad_lines == lines[2:]


def test_missing_results_are_reported() -> None:
    body = _line("a") + b"\n" + _line("b") + b"\n"
    job = _mock_job(body, custom_ids=["a", "b", "c"])
    with pytest.raises(ResultsIntegrityError, match="1 requests have no result: c"):
        job.collect()


def test_counts_that_disagree_are_reported() -> None:
    job = _mock_job(_line("a") + b"\n")
    with pytest.raises(ResultsIntegrityError, match="reported 2 requests but 1 results read"):
        job.collect()


def test_unknown_provider_status_fails_closed() -> None:
    with pytest.raises(UnknownStatusError, match="'paused'"):
        _mock_job(b"", {**BATCH, "processing_status": "paused"})


def test_redirects_are_not_followed() -> None:
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        return httpx.Response(302, headers={"location": "https://evil.example.net/steal"})

    provider = AnthropicProvider(
        api_key=API_KEY,
        base_url="https://api.example.com",
        client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    with pytest.raises(Exception, match="redirect not followed"):
        provider.retrieve("msgbatch_x")
    assert requested == ["https://api.example.com/v1/messages/batches/msgbatch_x"]


CHUNKED_BODY = b"".join(_line(f"c{i}", f"text {i} " * 3) + b"\n" for i in range(5))


@given(st.lists(st.integers(min_value=0, max_value=len(CHUNKED_BODY)), max_size=25))
@settings(max_examples=60, deadline=None)
def test_results_parse_the_same_at_any_chunk_boundaries(cuts: list[int]) -> None:
    points = [0, *sorted(set(cuts)), len(CHUNKED_BODY)]
    chunks = [CHUNKED_BODY[a:b] for a, b in itertools.pairwise(points)]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/results"):
            return httpx.Response(200, content=iter(chunks))
        counts = {**BATCH["request_counts"], "succeeded": 5}  # type: ignore[dict-item]
        return httpx.Response(200, json={**BATCH, "request_counts": counts})

    provider = AnthropicProvider(
        api_key=API_KEY,
        base_url="https://api.example.com",
        client=httpx.Client(transport=httpx.MockTransport(handler)),
    )
    job = BatchJob(provider, [provider.retrieve("msgbatch_mock")])
    assert job.collect().texts() == {f"c{i}": f"text {i} " * 3 for i in range(5)}


class _CutStream(httpx.SyncByteStream):
    """Sends `head`, then fails as a dropped connection does."""

    def __init__(self, head: bytes) -> None:
        self._head = head

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        raise httpx.ReadError("connection dropped")


def _rereading_job(first: bytes, second: bytes) -> BatchJob:
    answers = iter([first, second])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/results"):
            body = next(answers)
            if body is first:
                return httpx.Response(200, stream=_CutStream(first))
            return httpx.Response(200, content=body)
        return httpx.Response(200, json=BATCH)

    provider = AnthropicProvider(
        api_key=API_KEY,
        base_url="https://api.example.com",
        client=httpx.Client(transport=httpx.MockTransport(handler)),
        sleep=lambda _: None,
    )
    return BatchJob(provider, [provider.retrieve("msgbatch_mock")])


def test_a_cut_stream_resumes_after_the_lines_already_read() -> None:
    body = _line("a") + b"\n" + _line("b") + b"\n"
    job = _rereading_job(_line("a") + b"\n", body)
    assert [result.custom_id for result in job.results()] == ["a", "b"]


@pytest.mark.parametrize(
    "second",
    [
        _line("b") + b"\n" + _line("a") + b"\n",  # the order changed
        _line("a", "ok!") + b"\n" + _line("b") + b"\n",  # the line read before changed size
        _line("a", "no") + b"\n" + _line("b") + b"\n",  # ... or content, same size
        b"",  # the stream is shorter than what was read
    ],
)
def test_a_re_read_that_differs_from_what_was_read_is_refused(second: bytes) -> None:
    job = _rereading_job(_line("a") + b"\n", second)
    with pytest.raises(ResultsIntegrityError, match="changed between reads"):
        list(job.results())


def test_a_reordering_the_prefix_check_cannot_see_shows_as_a_repeat() -> None:
    # The first read got a, b, c; the re-read has d where b was (same size, same last line)
    # and b after c: b comes twice, d never came, and the read says so.
    read = b"".join(_line(name) + b"\n" for name in "abc")
    again = b"".join(_line(name) + b"\n" for name in "adcb")
    job = _rereading_job(read, again)
    with pytest.raises(ResultsIntegrityError, match="repeats custom_id 'b'") as caught:
        list(job.results())
    assert caught.value.bad_lines == [_line("b")]


def test_streaming_keeps_only_the_ids_it_has_admitted() -> None:
    # docs/benchmarks.md: reading a stream keeps each admitted custom_id, in a set, to refuse
    # a repeat: about 90 bytes a result for ids like these, and nothing else per result.
    import tracemalloc

    count = 4000
    body = b"".join(_line(f"req-{index:06d}", "x" * 400) + b"\n" for index in range(count))
    counts = {**BATCH["request_counts"], "succeeded": count}  # type: ignore[dict-item]
    job = _mock_job(body, {**BATCH, "request_counts": counts})
    stream = job.results()
    next(stream)  # the client, the request and the first network read are made
    tracemalloc.start()
    try:
        for _ in stream:
            held, _ = tracemalloc.get_traced_memory()  # at the last result: the set is whole
    finally:
        tracemalloc.stop()
    assert 64 * count <= held <= 128 * count, held / count


def test_gc_paused_restores_the_collector_and_leaves_what_it_built_in_the_oldest_generation() -> (
    None
):
    import gc

    from batchwork_prefect.core.results import gc_paused

    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        built = [[index] for index in range(1000)]  # lists: always tracked by the collector
    assert gc.isenabled() and gc.get_freeze_count() == 0
    oldest = {id(one) for one in gc.get_objects(generation=2)}
    assert all(id(one) in oldest for one in built)  # no young collection walks them again

    gc.freeze()  # something else froze its objects: that freeze is left as it is
    try:
        frozen = gc.get_freeze_count()
        with gc_paused():
            more = [{"n": index} for index in range(10)]
        assert gc.get_freeze_count() == frozen and gc.isenabled() and more
    finally:
        gc.unfreeze()
