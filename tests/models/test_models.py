"""The public pydantic models."""

from __future__ import annotations

import pickle

import orjson
import pydantic
import pytest

from batchwork_prefect import (
    BatchRequest,
    BatchResult,
    BatchResults,
    BatchStatus,
    RequestCounts,
    ResultError,
    ResultStatus,
    Usage,
)


def test_request_needs_exactly_one_of_prompt_and_messages() -> None:
    with pytest.raises(pydantic.ValidationError, match="exactly one"):
        BatchRequest()
    with pytest.raises(pydantic.ValidationError, match="exactly one"):
        BatchRequest(prompt="a", messages=[{"role": "user", "content": "b"}])
    with pytest.raises(pydantic.ValidationError, match="at least 1 item"):
        BatchRequest(messages=[])


@pytest.mark.parametrize("custom_id", ["", "a b", "é", "x" * 65, "a/b", "a.b", "a\n", "\na"])
def test_request_custom_id_must_match_the_pattern(custom_id: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="custom_id"):
        BatchRequest(custom_id=custom_id, prompt="p")


def test_request_rejects_unknown_fields_and_bad_numbers() -> None:
    with pytest.raises(pydantic.ValidationError):
        BatchRequest.model_validate({"prompt": "p", "max_token": 5})
    with pytest.raises(pydantic.ValidationError):
        BatchRequest(prompt="p", max_tokens=0)


def test_terminal_statuses() -> None:
    terminal = {status for status in BatchStatus if status.is_terminal}
    assert terminal == {
        BatchStatus.COMPLETED,
        BatchStatus.FAILED,
        BatchStatus.EXPIRED,
        BatchStatus.CANCELLED,
    }


def test_request_counts_add_and_count_finished() -> None:
    total = RequestCounts(total=3, processing=1, succeeded=2) + RequestCounts(
        total=2, errored=1, canceled=1
    )
    assert total == RequestCounts(total=5, processing=1, succeeded=2, errored=1, canceled=1)
    assert total.finished == 4


def _results() -> BatchResults:
    return BatchResults(
        batch_ids=["msgbatch_1"],
        results=[
            BatchResult(
                custom_id="fr",
                status=ResultStatus.SUCCEEDED,
                text="Paris",
                message={"id": "msg_1", "content": [{"type": "text", "text": "Paris"}]},
                usage=Usage(input_tokens=10, output_tokens=2, cache_read_input_tokens=4),
                batch_id="msgbatch_1",
            ),
            BatchResult(
                custom_id="jp",
                status=ResultStatus.SUCCEEDED,
                text="Tokyo",
                usage=Usage(input_tokens=11, output_tokens=3),
            ),
            BatchResult(
                custom_id="bad",
                status=ResultStatus.ERRORED,
                error=ResultError(type="api_error", message="boom", request_id="req_1"),
            ),
        ],
    )


def test_results_lookup_len_contains_and_texts() -> None:
    results = _results()
    assert results["fr"].text == "Paris"
    assert len(results) == 3
    assert "jp" in results and "nope" not in results
    assert results.get("nope") is None
    with pytest.raises(KeyError, match="nope"):
        results["nope"]
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo", "bad": None}
    assert [result.custom_id for result in results.values()] == ["fr", "jp", "bad"]


def test_results_counts_and_usage() -> None:
    results = _results()
    assert results.counts == {
        ResultStatus.SUCCEEDED: 2,
        ResultStatus.ERRORED: 1,
        ResultStatus.CANCELED: 0,
        ResultStatus.EXPIRED: 0,
    }
    assert results.usage == Usage(input_tokens=21, output_tokens=5, cache_read_input_tokens=4)
    assert [result.custom_id for result in results.by_status("errored")] == ["bad"]


def test_results_round_trip_through_json() -> None:
    results = _results()
    again = BatchResults.model_validate_json(results.model_dump_json())
    assert again == results
    assert again["fr"].message == {"id": "msg_1", "content": [{"type": "text", "text": "Paris"}]}


def test_results_iterate_as_a_model_so_prefect_can_walk_them() -> None:
    # Prefect reads a returned model as dict(model); that must stay field pairs.
    assert set(dict(_results())) == {"batch_ids", "results", "model", "replaced_usage"}


def test_results_index_follows_appended_results() -> None:
    results = _results()
    assert "new" not in results
    results.results.append(BatchResult(custom_id="new", status=ResultStatus.EXPIRED))
    assert results["new"].status is ResultStatus.EXPIRED


def test_a_result_read_from_a_line_equals_the_same_result_built_from_fields() -> None:
    from batchwork_prefect.providers.anthropic import parse_result_line

    message = {
        "id": "msg_1",
        "content": [{"type": "text", "text": "Pa"}, {"type": "text", "text": "ris"}],
        "usage": {"input_tokens": 3, "output_tokens": 4, "cache_read_input_tokens": 1},
    }
    line = orjson.dumps({"custom_id": "a", "result": {"type": "succeeded", "message": message}})
    lazy = parse_result_line(line, "b")
    built = BatchResult(
        custom_id="a",
        status="succeeded",
        text="Paris",
        message=message,
        usage=Usage(input_tokens=3, output_tokens=4, cache_read_input_tokens=1),
        batch_id="b",
    )
    assert lazy is not None
    assert lazy == built
    assert lazy.text == "Paris" and lazy.usage == built.usage and lazy.message == message
    assert lazy.model_dump_json() == built.model_dump_json()
    assert BatchResult.model_validate_json(lazy.model_dump_json()) == built
    assert BatchResult.model_validate(lazy.model_dump()) == built
    assert pickle.loads(pickle.dumps(lazy)) == built
    assert lazy.message is not lazy.message  # each use decodes afresh: no shared mutable dict


def test_a_result_is_immutable_and_validates_its_fields() -> None:
    result = BatchResult(custom_id="a", status="expired")
    with pytest.raises(AttributeError):
        result.text = "changed"  # type: ignore[misc]
    fields = ("custom_id", "status", "text", "usage", "error", "batch_id", "attempts", "parsed")
    for name in (*fields, "message"):
        with pytest.raises(AttributeError):
            setattr(result, name, None)
        with pytest.raises(AttributeError):
            delattr(result, name)
    assert [getattr(result, name) for name in fields] == ["a", "expired", *[None] * 4, 1, None]
    with pytest.raises(pydantic.ValidationError):
        BatchResult(custom_id="a", status="finished")
    with pytest.raises(pydantic.ValidationError):
        BatchResult.model_validate({"custom_id": "a", "status": "succeeded", "usage": "x"})
    assert "custom_id='a'" in repr(result) and "expired" in repr(result)


def test_a_result_inside_results_validates_from_a_mapping() -> None:
    results = BatchResults.model_validate(
        {"batch_ids": ["b"], "results": [{"custom_id": "a", "status": "canceled"}]}
    )
    assert results["a"].status is ResultStatus.CANCELED
    schema = BatchResults.model_json_schema()
    ref = schema["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[-1]
    assert schema["$defs"][ref]["title"] == "BatchResult"
    assert schema["$defs"][ref]["required"] == ["custom_id", "status"]


def test_results_equal_whether_or_not_a_result_was_looked_up() -> None:
    def made() -> BatchResults:
        return BatchResults(
            batch_ids=["b"], results=[BatchResult(custom_id="fr", status="succeeded", text="x")]
        )

    looked_up, untouched = made(), made()
    assert looked_up["fr"].text == "x"  # builds the lookup index, a cache
    assert looked_up == untouched and untouched == looked_up
    assert looked_up != BatchResults(batch_ids=["c"], results=looked_up.results)
    assert looked_up != BatchResults(batch_ids=["b"])


def test_a_results_copies_keep_every_slot_but_the_one_they_change() -> None:
    original = BatchResult.__new__(BatchResult)
    for index, name in enumerate(BatchResult.__slots__):
        setattr(original, name, f"value-{index}")
    error = ResultError(type="invalid_output", message="not JSON")
    copies = {
        "_parsed": original.with_parsed({"a": 1}),
        "_attempts": original.attempted(3),
        "_error": original.with_error(error),
    }
    for changed, copy in copies.items():
        assert copy is not original
        for name in BatchResult.__slots__:
            if name == changed or (changed == "_error" and name in ("_status", "_parsed")):
                continue
            assert getattr(copy, name) == getattr(original, name), (changed, name)
    assert copies["_parsed"].parsed == {"a": 1} and copies["_attempts"].attempts == 3
    assert copies["_error"].status is ResultStatus.ERRORED and copies["_error"].parsed is None
