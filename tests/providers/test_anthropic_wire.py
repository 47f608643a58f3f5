"""Anthropic wire format: status mapping, request bodies, batch objects and result lines."""

from __future__ import annotations

import tracemalloc
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect.core.results import ResultsAudit
from batchwork_prefect.errors import ProtocolError, UnknownStatusError, UnsafeURLError
from batchwork_prefect.models import (
    BatchRequest,
    BatchResult,
    BatchStatus,
    RequestCounts,
    ResultStatus,
)
from batchwork_prefect.providers.anthropic import (
    check_batch_id,
    encode_request,
    map_status,
    parse_result_line,
    request_params,
    snapshot_from_body,
)

ALL_EXPIRED = RequestCounts(total=3, expired=3)
MIXED = RequestCounts(total=3, succeeded=1, errored=1, expired=1)
EMPTY = RequestCounts()


@pytest.mark.parametrize(
    ("word", "counts", "cancelled", "expected"),
    [
        ("in_progress", MIXED, False, BatchStatus.IN_PROGRESS),
        ("in_progress", MIXED, True, BatchStatus.IN_PROGRESS),
        ("canceling", MIXED, True, BatchStatus.CANCELLING),
        ("ended", MIXED, False, BatchStatus.COMPLETED),
        ("ended", MIXED, True, BatchStatus.CANCELLED),
        ("ended", ALL_EXPIRED, False, BatchStatus.EXPIRED),
        ("ended", ALL_EXPIRED, True, BatchStatus.CANCELLED),
        ("ended", EMPTY, False, BatchStatus.COMPLETED),
    ],
)
def test_status_mapping(
    word: str, counts: RequestCounts, cancelled: bool, expected: BatchStatus
) -> None:
    assert map_status(word, counts, cancel_initiated=cancelled) is expected


@pytest.mark.parametrize("word", ["", "ENDED", "queued", "completed", "in-progress"])
def test_unknown_status_fails_closed(word: str) -> None:
    with pytest.raises(UnknownStatusError, match="unknown batch status"):
        map_status(word, MIXED, cancel_initiated=False)


def _batch(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "msgbatch_01abc",
        "type": "message_batch",
        "processing_status": "ended",
        "request_counts": {
            "processing": 0,
            "succeeded": 2,
            "errored": 1,
            "canceled": 0,
            "expired": 0,
        },
        "ended_at": "2026-09-02T20:10:22.100435Z",
        "created_at": "2026-09-02T20:08:22.100435Z",
        "expires_at": "2026-09-03T20:08:22.100435Z",
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": "https://api.anthropic.com/v1/messages/batches/msgbatch_01abc/results",
        "new_field": {"ignored": True},
    }
    body.update(overrides)
    return body


def test_batch_object_becomes_a_snapshot() -> None:
    snapshot = snapshot_from_body(_batch(), retry_after=10.0)
    assert snapshot.id == "msgbatch_01abc"
    assert snapshot.status is BatchStatus.COMPLETED
    assert snapshot.provider_status == "ended"
    assert snapshot.request_counts == RequestCounts(total=3, succeeded=2, errored=1)
    assert snapshot.created_at is not None and snapshot.created_at.tzinfo is not None
    assert snapshot.ended_at is not None and snapshot.ended_at.microsecond == 100435
    assert snapshot.retry_after == 10.0


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"processing_status": "ended"},
        _batch(request_counts=None),
        _batch(processing_status=None),
        _batch(request_counts={"processing": -1}),
        _batch(request_counts={"processing": "1", "succeeded": 0}),
        _batch(
            request_counts={
                "processing": True,
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            }
        ),
        _batch(created_at="yesterday"),
    ],
)
def test_malformed_batch_objects_fail_closed(body: Any) -> None:
    with pytest.raises(ProtocolError):
        snapshot_from_body(body)


@pytest.mark.parametrize("good", ["msgbatch_013Zva2CMHLNnXjNJJKqJ2EF", "msgbatch_a-b_c"])
def test_well_formed_batch_ids_pass(good: str) -> None:
    assert check_batch_id(good) == good


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "msgbatch_",
        "batch_123",
        "msgbatch_../../v1/x",
        "msgbatch_a/b",
        "msgbatch_a?x=1",
        "msgbatch_a%2F",
        "msgbatch_a b",
        "msgbatch_" + "a" * 201,
        "msgbatch_a\n",  # `$` matches before a trailing newline; fullmatch does not
        "\nmsgbatch_a",
        None,
        123,
    ],
)
def test_batch_ids_unfit_for_a_path_are_refused(bad: str) -> None:
    with pytest.raises(UnsafeURLError):
        check_batch_id(bad)


def test_request_params_merge_defaults_under_the_request() -> None:
    request = BatchRequest(
        prompt="Hi",
        system="be brief",
        temperature=0.5,
        params={"metadata": {"user_id": "u1"}, "thinking": {"type": "enabled"}},
    )
    defaults = {"max_tokens": 50, "system": "default system", "top_k": 3}
    params = request_params("claude-x", request, defaults)
    assert params == {
        "model": "claude-x",
        "max_tokens": 50,
        "system": "be brief",
        "top_k": 3,
        "temperature": 0.5,
        "metadata": {"user_id": "u1"},
        "thinking": {"type": "enabled"},
        "messages": [{"role": "user", "content": "Hi"}],
    }
    assert defaults == {"max_tokens": 50, "system": "default system", "top_k": 3}


def test_request_params_default_max_tokens_and_messages_pass_through() -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    params = request_params("claude-x", BatchRequest(messages=messages), {})
    assert params["max_tokens"] == 1024
    assert params["messages"] == messages
    assert (
        request_params("m", BatchRequest(prompt="p", max_tokens=7), {"max_tokens": 9})["max_tokens"]
        == 7
    )


@pytest.mark.parametrize(
    ("defaults", "params", "message"),
    [
        ({}, {"stream": True}, "stream"),
        ({"model": "other"}, {}, "conflicts"),
        ({}, {"model": "other"}, "conflicts"),
    ],
)
def test_request_params_refuse_what_a_batch_cannot_carry(
    defaults: dict[str, Any], params: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        request_params("claude-x", BatchRequest(prompt="p", params=params), defaults)


def test_encoded_request_is_the_wire_entry() -> None:
    entry = encode_request("fr", {"model": "m", "max_tokens": 5})
    assert orjson.loads(entry) == {"custom_id": "fr", "params": {"model": "m", "max_tokens": 5}}


SUCCEEDED = (
    b'{"custom_id":"fr","result":{"type":"succeeded","message":{"id":"msg_1","type":"message",'
    b'"role":"assistant","model":"claude-x","content":[{"type":"text","text":"Par"},'
    b'{"type":"tool_use","id":"t","name":"n","input":{}},{"type":"text","text":"is"}],'
    b'"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,'
    b'"cache_creation_input_tokens":1,"cache_read_input_tokens":2,"output_tokens":3,'
    b'"service_tier":"batch"}}}}'
)
ERRORED = (
    b'{"custom_id":"bad","result":{"type":"errored","error":{"type":"error","error":{"details":'
    b'{"error_visibility":"user_facing"},"type":"not_found_error","message":"model: nope"},'
    b'"request_id":null}}}'
)


def test_succeeded_line_joins_text_blocks_and_keeps_usage_and_message() -> None:
    result = parse_result_line(SUCCEEDED, "msgbatch_1")
    assert result is not None
    assert result.status is ResultStatus.SUCCEEDED
    assert result.text == "Paris"
    assert result.usage is not None
    assert (result.usage.input_tokens, result.usage.output_tokens) == (10, 3)
    assert (result.usage.cache_creation_input_tokens, result.usage.cache_read_input_tokens) == (
        1,
        2,
    )
    assert result.message is not None and result.message["id"] == "msg_1"
    assert result.batch_id == "msgbatch_1"


def test_errored_line_takes_the_inner_error() -> None:
    result = parse_result_line(ERRORED)
    assert result is not None and result.error is not None
    assert result.status is ResultStatus.ERRORED
    assert (result.error.type, result.error.message, result.error.request_id) == (
        "not_found_error",
        "model: nope",
        None,
    )


@pytest.mark.parametrize("kind", ["canceled", "expired"])
def test_canceled_and_expired_lines(kind: str) -> None:
    line = b'{"custom_id":"x","result":{"type":"%s"}}' % kind.encode()
    result = parse_result_line(line)
    assert result is not None and result.status.value == kind and result.text is None


@pytest.mark.parametrize(
    "line",
    [
        SUCCEEDED,
        ERRORED,
        b'{"custom_id":"x","result":{"type":"canceled"}}',
        b'{"custom_id":"x","result":{"type":"expired"}}',
    ],
)
def test_every_parsed_result_keeps_its_raw_line(line: bytes) -> None:
    result = parse_result_line(line, "msgbatch_1")
    assert result is not None and result.raw_line is line  # a reference, not a copy
    rebuilt = BatchResult.model_validate_json(result.model_dump_json())
    assert rebuilt == result and rebuilt.raw_line is None
    assert BatchResult(custom_id="x", status="expired").raw_line is None


def test_a_result_without_a_line_is_rejected_as_its_json() -> None:
    audit = ResultsAudit()
    made = BatchResult(custom_id="x", status="canceled")
    audit.reject(made, "msgbatch_1", 3)
    assert audit.bad_lines == [made.model_dump_json().encode()]
    assert audit.problems == ["batch msgbatch_1 line 3 repeats custom_id 'x'"]


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[1,2]",
        b'{"result":{"type":"canceled"}}',
        b'{"custom_id":"","result":{"type":"canceled"}}',
        b'{"custom_id":"x"}',
        b'{"custom_id":"x","result":{"type":"mystery"}}',
        b'{"custom_id":"x","result":{"type":"succeeded"}}',
        b'{"custom_id":"x","result":{"type":"succeeded","message":{"content":"text"}}}',
        b'{"custom_id":"x","result":{"type":"succeeded","message":{"content":[{"type":"text"}]}}}',
        b'{"custom_id":"x","result":{"type":"succeeded","message":{"content":[],"usage":{"input_tokens":-1}}}}',
        b'{"custom_id":"x","result":{"type":"errored","error":{"type":"error"}}}',
        b'{"custom_id":"x","result":{"type":"errored","error":{"error":{"type":1,"message":"m"}}}}',
    ],
)
def test_malformed_lines_are_not_results(line: bytes) -> None:
    assert parse_result_line(line) is None


def test_the_content_digest_is_the_same_in_every_process() -> None:
    # Cache keys hold the digest: a retry in a new process must compute the same one.
    import os
    import subprocess
    import sys

    script = (
        "from batchwork_prefect.core import build_parts\n"
        "from batchwork_prefect.providers import get_format\n"
        "requests = [{'custom_id': 'a', 'prompt': 'p', 'system': 's', 'temperature': 0.5,\n"
        "             'top_k': 3, 'stop_sequences': ['x'], 'max_tokens': 9,\n"
        "             'params': {'metadata': {'user_id': 'u'}, 'thinking': {'type': 'enabled'}}}]\n"
        "print(build_parts(get_format('anthropic'), 'm', requests, {'top_p': 0.9}).digest)\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1 and len(next(iter(digests))) == 64


def test_an_encoded_request_holds_only_its_own_bytes() -> None:
    # A batch keeps every encoded request until it is sent: spare buffer capacity behind
    # each one (orjson's output keeps 4 KiB and up) would multiply the memory of a submit.
    params = {"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "x" * 500}]}
    tracemalloc.start()
    try:
        encoded = encode_request("req-1", params)
        # only what encoding allocated: other threads of the process allocate meanwhile too
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, "*/batchwork_prefect/*"), tracemalloc.Filter(True, __file__)]
        )
        held = sum(stat.size for stat in snapshot.statistics("filename"))
    finally:
        tracemalloc.stop()
    assert orjson.loads(encoded) == {"custom_id": "req-1", "params": params}
    assert held <= len(encoded) + 128


BLOCKS = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=5)}),
    st.fixed_dictionaries({"type": st.just("text"), "text": st.integers(-5, 5)}),
    st.fixed_dictionaries({"type": st.just("tool_use"), "id": st.text(max_size=3)}),
    st.just("not a block"),
)
COUNTS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2, max_value=10**12))
USAGES = st.one_of(
    st.none(),
    st.just("absent"),
    st.just("bad"),
    st.dictionaries(
        st.sampled_from(
            [
                "input_tokens",
                "output_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
                "service_tier",
            ]
        ),
        COUNTS,
    ),
)


@given(st.lists(BLOCKS, max_size=3), USAGES)
def test_a_succeeded_line_reads_as_its_message_says_or_not_at_all(
    content: list[Any], usage: Any
) -> None:
    message: dict[str, Any] = {"id": "msg_1", "content": content}
    if usage != "absent":
        message["usage"] = usage
    line = orjson.dumps({"custom_id": "x", "result": {"type": "succeeded", "message": message}})
    result = parse_result_line(line, "b")

    texts = [block["text"] for block in content if isinstance(block, dict) and "text" in block]
    counts = usage if isinstance(usage, dict) else {}
    names = ("input_tokens", "output_tokens", "cache_creation_input_tokens")
    given = [counts.get(name) for name in (*names, "cache_read_input_tokens")]
    # A count is absent or null (read as 0) or a non-negative integer; a bool is no count.
    numbers = [0 if number is None else number for number in given]
    well_formed = (
        all(isinstance(block, dict) for block in content)
        and all(isinstance(text, str) for text in texts)
        and usage != "bad"
        and all(type(number) is int and number >= 0 for number in numbers)
    )
    if not well_formed:
        assert result is None
        return
    assert result is not None
    assert result.text == "".join(texts)
    assert result.message == message
    assert result.usage is not None
    assert [getattr(result.usage, name) for name in (*names, "cache_read_input_tokens")] == (
        numbers
    )
    assert type(result).model_validate_json(result.model_dump_json()) == result
