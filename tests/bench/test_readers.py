"""Every bench reader reads what users read of each result: status, text and usage."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import pytest

from batchwork_prefect import batch
from batchwork_prefect.emulator import Emulator
from bench import cases
from bench.workloads import API_KEY, MODEL

READERS: list[tuple[str, Callable[[cases.Job], int], str]] = [
    ("project", cases.read_project, "batchwork_prefect"),
    ("project collect", cases.collect_project, "batchwork_prefect"),
    ("sdk", cases.read_sdk, "anthropic"),
    ("batchwork-ai", cases.read_batchwork_ai, "batchwork"),
    ("raw", cases.read_raw, "httpx"),
]


@pytest.mark.parametrize(("name", "reader", "module"), READERS, ids=[r[0] for r in READERS])
def test_each_reader_consumes_status_text_and_usage(
    name: str, reader: Callable[[cases.Job], int], module: str
) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[bench]')")
    with Emulator(api_key=API_KEY, processing_seconds=0) as emulator:
        job = batch(
            f"anthropic/{MODEL}",
            [{"custom_id": "fr", "prompt": "Capital of France? One word."}],
            api_key=API_KEY,
            base_url=emulator.base_url,
        )
        job.wait(poll_interval=0.01)
        cases._SEEN[0] = None
        assert reader(cases.Job(base_url=emulator.base_url, batch_id=job.id)) == 1
    status, text, usage = cases._SEEN[0]  # type: ignore[misc]
    assert str(getattr(status, "value", status)) == "succeeded"
    assert text == "Paris"
    assert usage is not None
