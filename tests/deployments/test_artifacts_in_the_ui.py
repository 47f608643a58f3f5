"""A finished run's artifacts as a person sees them: Prefect's UI, served by
`prefect server start`, rendered by Debian's headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

from batchwork_prefect import AnthropicCredentials, BatchResults, run_batch
from batchwork_prefect.emulator import Emulator
from harness import PrefectServer, free_port, start_server
from tests.support import API_KEY

pytestmark = [pytest.mark.deployments, pytest.mark.timeout(300)]

CAPITALS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]


def chromium() -> str:
    """Debian's chromium, installed with apt where it is missing and this runs as root."""
    found = shutil.which("chromium")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for line in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(line, env=env, capture_output=True, timeout=240, check=False)
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("chromium is not installed and cannot be (`apt-get install chromium` as root)")
    return found


@pytest.fixture
def ui_server(tmp_path: Path) -> Iterator[PrefectServer]:
    """`prefect server start` with its UI on, which calls the API on the server's port."""
    port = free_port()
    server = start_server(
        tmp_path / "home",
        port=port,
        PREFECT_SERVER_UI_ENABLED="true",
        PREFECT_UI_API_URL=f"http://127.0.0.1:{port}/api",
    )
    try:
        yield server
    finally:
        server.stop()


def render(browser: str, url: str, tmp_path: Path, screenshot: Path | None = None) -> str:
    """The DOM of `url` once the UI's scripts have run (virtual time: no wall-clock wait)."""
    line = [
        browser,
        "--headless",
        "--no-sandbox",  # root in a container
        "--disable-gpu",
        f"--user-data-dir={tmp_path / 'chromium'}",
        "--virtual-time-budget=15000",
        "--window-size=1400,1400",
    ]
    if screenshot is not None:
        done = subprocess.run(
            [*line, f"--screenshot={screenshot}", url], capture_output=True, timeout=120
        )
        assert screenshot.is_file(), done.stderr.decode()[-2000:]
    done = subprocess.run([*line, "--dump-dom", url], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.stdout.decode()


def test_a_finished_run_s_summary_and_preview_render_in_prefect_s_ui(
    ui_server: PrefectServer, tmp_path: Path
) -> None:
    browser = chromium()
    home = tmp_path / "client-home"
    with (
        Emulator(api_key=API_KEY) as emulator,
        temporary_settings(updates={PREFECT_API_URL: ui_server.api_url, PREFECT_HOME: str(home)}),
    ):
        state = run_batch(
            model="anthropic/claude-opus-4-8",
            requests=CAPITALS,
            credentials=AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url),
            idempotency_key="capitals",
            poll_interval=0.05,
            return_state=True,
        )
        results: BatchResults = state.result()
        run_id = state.state_details.flow_run_id
        assert isinstance(run_id, UUID)
        with get_client(sync_client=True) as client:
            artifacts = client.read_artifacts(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )
    by_kind = {artifact.key.split("-")[1]: artifact for artifact in artifacts if artifact.key}
    summary, preview = by_kind["summary"], by_kind["preview"]
    assert summary.key == f"batchwork-summary-run-batch-capitals-{summary.key[-8:]}"
    rows = orjson.loads(summary.data) if isinstance(summary.data, str) else summary.data
    cost = next(row["value"] for row in rows if row["field"] == "cost")
    assert cost.startswith("$") and "Batch API prices" in cost

    ui = ui_server.api_url.removesuffix("/api")
    screenshot = tmp_path / "preview.png"
    shown = render(browser, f"{ui}/artifacts/artifact/{preview.id}", tmp_path, screenshot)
    for answer in ("Paris", "Tokyo", "Capital of France? One word."):
        assert answer in shown
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    shown = render(browser, f"{ui}/artifacts/artifact/{summary.id}", tmp_path)
    assert cost in shown and 'load_batch_results("capitals")' in shown.replace("&quot;", '"')
    print(f"screenshot of the preview artifact: {screenshot}")
