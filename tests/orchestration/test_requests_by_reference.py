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
    ],
)
def test_requests_come_from_exactly_one_readable_place(
    emulator: Emulator, options: dict[str, Any]
) -> None:
    with pytest.raises(ConfigurationError):
        _run(emulator, **options).result()
    assert emulator.calls["create"] == 0
