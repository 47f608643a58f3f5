"""The `batchwork-prefect` command: the demo and the stand-alone emulator."""

from __future__ import annotations

import subprocess
import sys

import httpx

from batchwork_prefect.demo import run_demo


def test_demo_prints_the_capitals() -> None:
    lines: list[str] = []
    results = run_demo(processing_seconds=0.2, echo=lines.append)
    assert results.texts() == {"fr": "Paris", "jp": "Tokyo"}
    output = "\n".join(lines)
    assert "submitted batch msgbatch_" in output
    assert "completed" in output
    table = lines[-1]
    assert "fr" in table and "Paris" in table and "jp" in table and "Tokyo" in table


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
