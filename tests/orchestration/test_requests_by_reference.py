"""`run_batch(requests_path=...)`: requests read by the worker, past the 512 KiB parameter limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fsspec
import orjson
import pytest

from batchwork_prefect import AnthropicCredentials, InvalidBatchError, run_batch
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.errors import ConfigurationError
from batchwork_prefect.orchestration.requests_file import (
    MAX_REQUESTS_FILE_BYTES,
    read_requests_file,
)
from tests.support import API_KEY


def _run(emulator: Emulator, **options: Any) -> Any:
    return run_batch(
        model="anthropic/claude-opus-4-8",
        credentials=AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url),
        poll_interval=0.05,
        return_state=True,
        **options,
    )


def _lines(count: int) -> bytes:
    rows = [{"custom_id": f"p{i:04d}", "prompt": f"{i} " + "x" * 700} for i in range(count)]
    return b"\n".join(orjson.dumps(row) for row in rows) + b"\n\n"


def test_a_file_over_the_parameter_limit_runs_as_one_batch(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_bytes(_lines(800))
    assert path.stat().st_size > 512 * 1024
    results = _run(emulator, requests_path=str(path)).result()
    assert len(results) == 800
    assert results["p0007"].text == "Emulated reply to: " + ("7 " + "x" * 700)[:60]
    assert emulator.batches_created == 1


def test_any_fsspec_url_the_worker_can_read(emulator: Emulator) -> None:
    with fsspec.open("memory://batchwork-tests/requests.jsonl", "wb") as handle:
        handle.write(_lines(3))
    results = _run(emulator, requests_path="memory://batchwork-tests/requests.jsonl").result()
    assert sorted(results.texts()) == ["p0000", "p0001", "p0002"]


def test_bad_lines_are_all_reported_and_nothing_is_sent(emulator: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"prompt": "ok"}\nnot json\n[1, 2]\n')
    with pytest.raises(InvalidBatchError) as caught:
        _run(emulator, requests_path=str(path)).result()
    assert [problem.split(":")[1] for problem in caught.value.problems] == ["2", "3"]
    assert emulator.calls["create"] == 0


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"requests": [{"prompt": "a"}], "requests_path": "x.jsonl"},
        {"requests_path": "/nonexistent/requests.jsonl"},
        {"requests_path": "foo://bucket/requests.jsonl"},
    ],
)
def test_requests_come_from_exactly_one_readable_place(
    emulator: Emulator, options: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError):
        _run(emulator, **options).result()
    assert emulator.calls["create"] == 0


def test_an_unknown_protocol_is_named_with_the_fix(emulator: Emulator) -> None:
    with pytest.raises(ConfigurationError) as caught:
        _run(emulator, requests_path="foo://bucket/requests.jsonl").result()
    assert str(caught.value) == (
        "cannot read requests from 'foo://bucket/requests.jsonl': Protocol not known: foo; "
        "give a local path or an fsspec URL (s3://bucket/requests.jsonl, memory://..., "
        "http(s)://...)"
    )
    assert emulator.calls["create"] == 0


def test_the_size_limit_is_four_of_the_largest_provider_batch() -> None:
    assert MAX_REQUESTS_FILE_BYTES == 4 * 256_000_000


def test_a_file_over_the_limit_is_refused_before_it_is_read(
    emulator: Emulator, tmp_path: Path
) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as handle:
        handle.truncate(MAX_REQUESTS_FILE_BYTES + 1)  # sparse: takes no disk space
    with pytest.raises(InvalidBatchError) as caught:
        _run(emulator, requests_path=str(path)).result()
    assert caught.value.problems == [
        f"{path}: more than 1,024,000,000 bytes, the most a requests file may hold (four of "
        "the largest provider batch); check that the path names a JSONL file of requests, "
        "and split larger ones over several runs"
    ]
    assert emulator.calls["create"] == 0


def test_an_endless_stream_stops_once_past_the_limit() -> None:
    # /dev/zero has no size to check first and no newline: only the count of bytes read ends it.
    with pytest.raises(InvalidBatchError, match=r"^invalid batch: /dev/zero: more than 3,000,000"):
        read_requests_file("/dev/zero", max_bytes=3_000_000)


def test_lines_longer_than_a_read_chunk_keep_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    long_prompt = "y" * 2_500_000
    path.write_bytes(
        orjson.dumps({"custom_id": "long", "prompt": long_prompt})
        + b"\n\n"
        + b"not json\n"
        + b'{"custom_id": "last", "prompt": "z"}'
    )
    with pytest.raises(InvalidBatchError) as caught:
        read_requests_file(str(path))
    assert [problem.split(": ")[0] for problem in caught.value.problems] == [f"{path}:3"]
    path.write_bytes(path.read_bytes().replace(b"not json", b"{}"))
    rows = read_requests_file(str(path))
    assert [row.get("custom_id") for row in rows] == ["long", None, "last"]
    assert rows[0]["prompt"] == long_prompt
