"""A plain script with nobody watching: `run_batch` with an idempotency key, no worker,
no automation, no poller (see test_unwatched_kills).

`python -m tests.crash.unwatched_script <idempotency key> [job-block]` runs the
capital-cities batch on the server `PREFECT_API_URL` names (else Prefect's temporary server)
against the emulator that `ANTHROPIC_BASE_URL` names, and prints each result as
`RESULT <custom_id> <text>`; with `job-block`, as a `MessageBatchJob` (trigger, wait, fetch).
"""

from __future__ import annotations

import sys

from batchwork_prefect import BatchResults, MessageBatchJob, run_batch

REQUESTS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]


def main(key: str, mode: str = "run-batch") -> None:
    results: BatchResults
    if mode == "job-block":
        job = MessageBatchJob(
            model="anthropic/claude-opus-4-8",
            requests=REQUESTS,
            idempotency_key=key,
            poll_interval=0.5,
        )
        run = job.trigger()
        run.wait_for_completion()
        results = run.fetch_result()
    else:
        results = run_batch(
            model="anthropic/claude-opus-4-8",
            requests=REQUESTS,
            idempotency_key=key,
            poll_interval=0.5,
        )
    for custom_id, text in sorted(results.texts().items()):
        print(f"RESULT {custom_id} {text}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
