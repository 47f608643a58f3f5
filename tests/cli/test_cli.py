"""The `batchwork-prefect` command: the demo and the stand-alone emulator."""

from __future__ import annotations

import subprocess
import sys

import httpx


def test_emulator_command_serves_the_api() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "batchwork_prefect.cli",
            "emulator",
            "--port",
            "0",
            "--processing-seconds",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        base_url = banner.split(" on ")[1].split()[0]
        headers = {"anthropic-version": "2023-06-01", "x-api-key": "any"}
        body = {
            "requests": [
                {
                    "custom_id": "a",
                    "params": {
                        "model": "claude-x",
                        "max_tokens": 5,
                        "messages": [{"role": "user", "content": "hi"}],
                    },
                }
            ]
        }
        created = httpx.post(f"{base_url}/v1/messages/batches", json=body, headers=headers)
        assert created.status_code == 200
        assert created.json()["processing_status"] == "in_progress"
        assert created.headers["request-id"].startswith("req_")
    finally:
        process.terminate()
        process.wait(timeout=30)
