"""The xAI rows: one ended xAI batch read by this project and by raw httpx + orjson.

xAI's results are JSON pages (`GET /v1/batches/{id}/results`, up to 1,000 results a page,
`pagination_token` to the next), not a file. The batch: the read batch's prompts with the
same errored markers (5%; xAI has no per-request expiry, so no expired ones), each success a
text reply of about `REPLY_CHARS` characters. Each case runs in a measured child as the
other rows do (`bench.child`); `Job.base_url` is the emulator's `base_url_for("xai")`.
"""

from __future__ import annotations

from typing import Any

from bench.cases import Case, Job
from bench.workloads import ERRORED, REPLY_CHARS, custom_id, passage, prompt_seed, prompts

MODEL = "grok-4-1-fast-reasoning"
API_KEY = "xai-bench-0000000000"
HEADERS = {"authorization": f"Bearer {API_KEY}"}
PAGE = 1000

_SEEN: list[object] = [None]


def _consume(custom_id: object, status: object, text: object, usage: object) -> None:
    """Hold on to the last fields read, so reading them cannot be skipped."""
    _SEEN[0] = (custom_id, status, text, usage)


def read_prompts(count: int) -> list[str]:
    """The read batch's prompts, with the errored markers of the other rows' batches."""
    made = prompts(count)
    for index in range(count):
        if index % 100 in ERRORED:
            made[index] += f" [[emulate:errored:{ERRORED[index % 100]}]]"
    return made


def reply_content(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The emulator's reply hook: a text of about REPLY_CHARS characters."""
    return [{"type": "text", "text": passage(prompt_seed(params), REPLY_CHARS)}]


def create_batch(base_url: str, size: int) -> str:
    """Make a batch of `size` requests with raw calls (not measured); its id."""
    import httpx
    import orjson

    with httpx.Client(base_url=base_url, headers=HEADERS, timeout=600) as client:
        made = client.post("/batches", json={"name": "bench"})
        made.raise_for_status()
        batch_id: str = made.json()["batch_id"]
        texts = read_prompts(size)
        for start in range(0, size, 10_000):
            entries = [
                {
                    "batch_request_id": custom_id(index),
                    "batch_request": {
                        "chat_get_completion": {
                            "model": MODEL,
                            "messages": [{"role": "user", "content": texts[index]}],
                        }
                    },
                }
                for index in range(start, min(size, start + 10_000))
            ]
            added = client.post(
                f"/batches/{batch_id}/requests",
                content=orjson.dumps({"batch_requests": entries}),
                headers={"content-type": "application/json"},
            )
            added.raise_for_status()
    return batch_id


def read_project(job: Job) -> int:
    from batchwork_prefect import get_batch

    count = 0
    with get_batch(job.batch_id, "xai", api_key=API_KEY, base_url=job.base_url) as batch:
        for result in batch.results():
            _consume(result.custom_id, result.status, result.text, result.usage)
            count += 1
    return count


def read_raw(job: Job) -> int:
    """The floor: each page with httpx, each result's fields with orjson."""
    import httpx
    import orjson

    count = 0
    url = f"{job.base_url}/batches/{job.batch_id}/results"
    params: dict[str, str | int] = {"limit": PAGE}
    with httpx.Client(headers=HEADERS, timeout=600) as client:
        while True:
            page = orjson.loads(client.get(url, params=params).content)
            for item in page["results"]:
                outcome = item["batch_result"]
                if "response" in outcome:
                    completion = outcome["response"]["chat_get_completion"]
                    text = completion["choices"][0]["message"]["content"]
                    _consume(item["batch_request_id"], "succeeded", text, completion["usage"])
                else:
                    _consume(item["batch_request_id"], "errored", outcome["error"], None)
                count += 1
            token = page.get("pagination_token")
            if not token:
                return count
            params = {"limit": PAGE, "pagination_token": token}


READERS = (
    Case(
        "project",
        "batchwork-prefect `get_batch(...).results()`",
        ("batchwork_prefect",),
        read_project,
    ),
    Case("raw", "raw httpx + orjson (floor)", ("httpx", "orjson"), read_raw),
)
CASES = {f"xai/read/{case.key}": case for case in READERS}
