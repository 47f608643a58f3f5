"""Results as JSON: one decode per line, the persisted shape, and `Usage` as a pydantic field."""

from __future__ import annotations

import tracemalloc
from typing import Any

import msgspec
import orjson
import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect import BatchResult, BatchResults, ResultError, ResultStatus, Usage
from batchwork_prefect.core.results import gc_paused
from batchwork_prefect.providers.anthropic import parse_result_line
from batchwork_prefect.providers.anthropic import results as anthropic


def _line(custom_id: str, content: list[dict[str, Any]], usage: Any = None) -> bytes:
    message: dict[str, Any] = {"id": "msg_1", "type": "message", "content": content}
    if usage is not None:
        message["usage"] = usage
    return orjson.dumps(
        {"custom_id": custom_id, "result": {"type": "succeeded", "message": message}}
    )


RICH = _line(
    "rich",
    [
        {"type": "thinking", "thinking": "Let me see.", "signature": "c2lnbmF0dXJl"},
        {"type": "text", "text": "Par"},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": [1, 2]}},
        {"type": "text", "text": "is", "citations": None},
    ],
    {
        "input_tokens": 10,
        "output_tokens": 3,
        "cache_creation_input_tokens": 4,
        "cache_read_input_tokens": 5,
        "cache_creation": {"ephemeral_5m_input_tokens": 4},
        "service_tier": "batch",
    },
)


def test_text_and_usage_are_decoded_once_when_the_line_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = parse_result_line(RICH, "msgbatch_1")
    assert result is not None

    def no_second_decode(*args: Any) -> Any:
        raise AssertionError("the line was decoded again")

    monkeypatch.setattr(anthropic, "_LINE", no_second_decode)
    monkeypatch.setattr(anthropic.orjson, "loads", no_second_decode)
    for _ in range(3):
        assert result.text == "Paris"
        assert result.usage == Usage(
            input_tokens=10,
            output_tokens=3,
            cache_creation_input_tokens=4,
            cache_read_input_tokens=5,
        )
        assert result.status is ResultStatus.SUCCEEDED


def test_the_message_is_the_whole_provider_message_and_a_fresh_dict_each_time() -> None:
    result = parse_result_line(RICH, "msgbatch_1")
    assert result is not None
    first, second = result.message, result.message
    assert first == orjson.loads(RICH)["result"]["message"]  # unknown fields and blocks kept
    assert first is not second


@pytest.mark.parametrize(
    "usage",
    [
        {"input_tokens": 7, "cache_creation_input_tokens": None, "cache_read_input_tokens": None},
        {"input_tokens": 7},
        None,
    ],
)
def test_null_or_absent_counts_read_as_zero(usage: Any) -> None:
    content = [{"type": "text", "text": "hi"}]
    line = _line("x", content, usage) if usage is not None else _line("x", content)
    result = parse_result_line(line)
    assert result is not None and result.usage is not None
    expected = 7 if usage else 0
    assert result.usage == Usage(input_tokens=expected)


@pytest.mark.parametrize(
    "content, usage",
    [
        ([{"text": "no type"}], None),
        ([{"type": "text"}], None),
        ([{"type": "text", "text": 5}], None),
        (["a string, not a block"], None),
        ([{"type": "text", "text": "ok"}], {"input_tokens": True}),
        ([{"type": "text", "text": "ok"}], {"input_tokens": False}),
        ([{"type": "text", "text": "ok"}], {"input_tokens": 1.5}),
        ([{"type": "text", "text": "ok"}], {"output_tokens": -1}),
        ([{"type": "text", "text": "ok"}], {"output_tokens": "3"}),
        ([{"type": "text", "text": "ok"}], [1, 2]),
    ],
)
def test_a_line_that_is_wrong_anywhere_is_refused(content: Any, usage: Any) -> None:
    assert parse_result_line(_line("x", content, usage)) is None


def test_whitespace_only_and_truncated_lines_are_refused() -> None:
    assert parse_result_line(RICH[:-1]) is None
    assert parse_result_line(b"   ") is None


def _results() -> BatchResults:
    read = parse_result_line(RICH, "msgbatch_1")
    errored = parse_result_line(
        b'{"custom_id":"bad","result":{"type":"errored","error":{"type":"error","error":'
        b'{"type":"overloaded_error","message":"later"},"request_id":"req_1"}}}',
        "msgbatch_1",
    )
    assert read is not None and errored is not None
    built = BatchResult(
        custom_id="built",
        status="succeeded",
        text="é ☃",
        message={"content": [{"type": "text", "text": "é ☃"}], "n": 1.5},
        usage={"input_tokens": 1},
        batch_id="msgbatch_2",
    )
    bare = BatchResult(custom_id="gone", status="expired")
    return BatchResults(
        batch_ids=["msgbatch_1", "msgbatch_2"], results=[read, errored, built, bare]
    )


def test_the_fast_json_is_what_pydantic_writes_and_reads() -> None:
    results = _results()
    fast = results.model_dump_json()
    slow = pydantic.BaseModel.model_dump_json(results)
    assert orjson.loads(fast) == orjson.loads(slow)
    assert BatchResults.model_validate_json(fast) == BatchResults.model_validate_json(
        slow, strict=False
    )
    loaded = BatchResults.model_validate_json(fast)
    assert [result.model_dump() for result in loaded.results] == [
        result.model_dump() for result in results.results
    ]
    assert loaded.results[0].raw_line is None  # what was loaded is no provider line
    assert loaded.results[1].error == ResultError(
        type="overloaded_error", message="later", request_id="req_1"
    )
    assert loaded.model_dump_json() == fast  # a loaded message is written back as it was read


def test_indented_json_is_pydantics() -> None:
    assert "\n  " in _results().model_dump_json(indent=2)


@pytest.mark.parametrize(
    "change",
    [
        {"status": "mystery"},
        {"message": [1]},
        {"message": "text"},
        {"usage": {"input_tokens": -1}},
        {"custom_id": None},
        {"error": {"type": "x"}},
    ],
)
def test_persisted_json_that_is_wrong_raises_pydantics_error(change: dict[str, Any]) -> None:
    data = orjson.loads(_results().model_dump_json())
    data["results"][0].update(change)
    with pytest.raises(pydantic.ValidationError):
        BatchResults.model_validate_json(orjson.dumps(data))


def test_persisted_json_pydantic_reads_leniently_still_loads() -> None:
    # e.g. a status written in another case is for pydantic to judge, and it refuses it
    data = orjson.loads(_results().model_dump_json())
    data["results"][3]["usage"] = {"input_tokens": "2"}  # pydantic's lax mode reads "2"
    loaded = BatchResults.model_validate_json(orjson.dumps(data))
    assert loaded.results[3].usage == Usage(input_tokens=2)


def test_a_loaded_message_holds_only_its_own_bytes() -> None:
    data = _results().model_dump_json().encode()
    loaded = BatchResults.model_validate_json(data)
    body = loaded.results[0]._body
    assert isinstance(body, msgspec.Raw)
    assert len(body) == len(orjson.dumps(orjson.loads(RICH)["result"]["message"]))


WORDS = st.text(st.characters(codec="utf-8"), max_size=20)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(ResultStatus)),
            st.none() | WORDS,
            st.none() | st.dictionaries(WORDS, WORDS | st.integers(), max_size=3),
            st.none() | st.integers(0, 2**40),
        ),
        max_size=5,
    )
)
def test_any_results_round_trip_through_the_fast_json(rows: list[Any]) -> None:
    results = BatchResults(
        batch_ids=["b"],
        results=[
            BatchResult(
                custom_id=f"id-{index}",
                status=status,
                text=text,
                message=message,
                usage=None if tokens is None else Usage(output_tokens=tokens),
            )
            for index, (status, text, message, tokens) in enumerate(rows)
        ],
    )
    loaded = BatchResults.model_validate_json(results.model_dump_json())
    assert loaded == results
    assert orjson.loads(results.model_dump_json()) == orjson.loads(
        pydantic.BaseModel.model_dump_json(results)
    )


def test_usage_is_a_pydantic_field_that_validates_and_serializes() -> None:
    class Holder(pydantic.BaseModel):
        usage: Usage

    held = Holder.model_validate({"usage": {"input_tokens": 3}})
    assert held.usage == Usage(input_tokens=3)
    assert Holder(usage=Usage(output_tokens=2)).model_dump()["usage"] == {
        "input_tokens": 0,
        "output_tokens": 2,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    assert Holder.model_validate_json('{"usage":{"cache_read_input_tokens":4}}').usage == Usage(
        cache_read_input_tokens=4
    )
    with pytest.raises(pydantic.ValidationError):
        Holder.model_validate({"usage": {"input_tokens": -1}})
    assert "usage" in Holder.model_json_schema()["properties"]
    assert Usage.model_validate({"output_tokens": 1}) == Usage(output_tokens=1)
    assert orjson.loads(Usage(input_tokens=1).model_dump_json())["input_tokens"] == 1
    assert hash(Usage()) == hash(Usage())
    assert not isinstance(Usage(), pydantic.BaseModel)
    with pytest.raises(AttributeError):
        Usage().input_tokens = 1  # type: ignore[misc]


def test_collect_holds_the_lines_and_texts_and_little_else() -> None:
    # docs/core.md: a collected result keeps its raw line, its text and about 450 bytes more
    # (the result, its usage, its id, its place in the list and in the check of repeats).
    lines = [
        _line(
            f"req-{index:06d}",
            [
                {"type": "thinking", "thinking": "t" * 300, "signature": "s" * 200},
                {"type": "text", "text": f"{index} " + "a" * 200},
                {"type": "tool_use", "id": "toolu_1", "name": "n", "input": {"k": index}},
                {"type": "text", "text": "b" * 200},
            ],
            {"input_tokens": 1000 + index, "output_tokens": 300, "cache_read_input_tokens": 900},
        )
        for index in range(2000)
    ]
    jsonl = sum(len(line) for line in lines)
    tracemalloc.start()
    try:
        with gc_paused():
            seen: set[str] = set()
            kept = []
            for line in lines:
                result = parse_result_line(line, "msgbatch_1")
                assert result is not None and result.custom_id not in seen
                seen.add(result.custom_id)
                kept.append(result)
        # only what this thread's reading allocated: other threads of the process (pytest's
        # plugins, xdist's channel) allocate meanwhile too
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, "*/batchwork_prefect/*"), tracemalloc.Filter(True, __file__)]
        )
        held = sum(stat.size for stat in snapshot.statistics("filename"))
    finally:
        tracemalloc.stop()
    texts = sum(len(result.text or "") for result in kept)
    # The lines were held before reading; reading adds each text and about 420 bytes.
    assert held <= texts + 450 * len(kept)
    assert held + jsonl <= 2 * jsonl
