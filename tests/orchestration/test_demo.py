"""The README's main job: the demo flow against the emulator."""

from __future__ import annotations

from pathlib import Path

import genai_prices
import orjson
import pytest

from batchwork_prefect.demo import run_demo


def test_demo_runs_the_flow_and_says_where_results_are(prefect_home: Path) -> None:
    lines: list[str] = []
    results = run_demo(processing_seconds=0.2, echo=lines.append)
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    output = "\n".join(lines)
    rows = [line.split() for line in output.splitlines()]
    assert ["fr", "succeeded", "Paris", "7/2"] in rows
    assert ["jp", "succeeded", "Tokyo", "7/2"] in rows
    # claude-opus-4-8 at batch prices, per million tokens: 14 in x 2.5 + 4 out x 12.5
    priced_by = f"genai-prices {genai_prices.__version__}"
    assert f"cost: $0.000085 for 2 results at Batch API prices ({priced_by})" in (
        output.splitlines()
    )
    persisted = Path(lines[-1].removeprefix("results persisted to "))
    assert persisted.is_relative_to(prefect_home) and persisted.name == "results.json"
    assert orjson.loads(orjson.loads(persisted.read_bytes())["result"])["batch_ids"] == (
        results.batch_ids
    )


def test_the_demo_waits_long_enough_for_a_fresh_embedded_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fresh machine's first embedded server takes longer than Prefect's 20 s default."""
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    import batchwork_prefect.demo as demo
    from batchwork_prefect.orchestration.temporary_server import STARTUP_SECONDS

    seen: list[int] = []

    def fake_run_batch(**_: object) -> object:
        seen.append(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
        raise RuntimeError("stop here")

    monkeypatch.setattr(demo, "run_batch", fake_run_batch)
    with pytest.raises(RuntimeError, match="stop here"):
        demo.run_demo(echo=lambda line: None)
    assert seen == [STARTUP_SECONDS] and STARTUP_SECONDS > 20
