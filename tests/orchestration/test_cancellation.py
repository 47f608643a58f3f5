"""Cancelling the flow run (SIGTERM to its process, as a worker does) cancels the batch."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from prefect.settings import PREFECT_API_URL

from batchwork_prefect.emulator import Emulator
from tests.support import API_KEY

SCRIPT = """
import sys
from batchwork_prefect import AnthropicCredentials, run_batch
run_batch(
    model="anthropic/claude-x",
    requests=[{"prompt": "a long one"}],
    credentials=AnthropicCredentials(api_key=sys.argv[1], base_url=sys.argv[2]),
    poll_interval=0.05,
    max_poll_interval=0.2,
)
"""


def test_sigterm_while_waiting_cancels_the_provider_batch(prefect_home: Path) -> None:
    with Emulator(api_key=API_KEY, processing_seconds=3600) as emu:
        env = {
            **os.environ,
            "PREFECT_API_URL": str(PREFECT_API_URL.value()),
            "PREFECT_HOME": str(prefect_home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
        process = subprocess.Popen(
            [sys.executable, "-c", SCRIPT, API_KEY, emu.base_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert process.stdout is not None
        try:
            for line in process.stdout:
                if "is in_progress" in line:
                    break
            process.send_signal(signal.SIGTERM)
            output = process.stdout.read()
            process.wait(timeout=60)
        finally:
            process.kill()
        assert emu.calls["create"] == 1
        assert emu.calls["cancel"] == 1, output
        assert "cancelling msgbatch_" in output
