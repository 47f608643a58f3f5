"""The Gemini rows' data: a batch as Gemini's Batch API returns it, and raw setup.

The read batch is created from an uploaded JSONL file, so its results come as a responses
file of `{key, response | error}` lines, as Gemini writes them for a file batch: each
succeeded `GenerateContentResponse` has a thought part, two text parts around a
`functionCall` part, `finishReason` "STOP", and `usageMetadata` with thought and cached
counts (the bench's `reply_content` and `reply_usage` hooks). About 5% of the requests end
with an error `Status` (INTERNAL, RESOURCE_EXHAUSTED) and 2% with DEADLINE_EXCEEDED, from
the same `[[emulate:...]]` prompt markers as the Anthropic batch. Everything is derived from
the prompt (CRC32 seeds), so every run serves the same bytes.
"""

from __future__ import annotations

import zlib
from typing import Any

from bench import workloads
from bench.workloads import MAX_TOKENS, custom_id

MODEL = "gemini-2.5-flash"
API_KEY = "gemini-bench-0000000000"
HEADERS = {"x-goog-api-key": API_KEY}
MAX_SIZE = 100_000
"""This package's limit of requests per Gemini batch."""
INLINE_BYTES = 20_000_000
"""Gemini's guide keeps inline requests under 20 MB; past it a user uploads a file."""


def size(requested: int) -> int:
    """The Gemini rows' batch size for a run of `requested`: at most one batch."""
    return min(requested, MAX_SIZE)


def read_prompts(count: int) -> list[str]:
    """The read batch's prompts: the Anthropic read batch's (the same markers)."""
    return workloads.read_prompts(count)


def _seed(request: dict[str, Any]) -> int:
    parts = request["contents"][-1]["parts"]
    return zlib.crc32("".join(str(part.get("text", "")) for part in parts).encode())


def reply_content(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The emulator's `reply_content` for a Gemini request: the Anthropic rows' blocks
    (thinking, text, tool_use, text), which the emulator turns into Gemini parts."""
    text = request["contents"][-1]["parts"][0]["text"]
    return workloads.reply_content({"messages": [{"role": "user", "content": text}]})


def reply_usage(request: dict[str, Any]) -> dict[str, Any]:
    """The emulator's `reply_usage`: a cached count, as a cache hit reports it."""
    return {"cachedContentTokenCount": 2048 + _seed(request) % 1024}


def lines(texts: list[str]) -> list[dict[str, Any]]:
    """The input file's `{key, request}` lines for `texts`, as Gemini's guide writes them."""
    return [
        {
            "key": custom_id(index),
            "request": {
                "contents": [{"role": "user", "parts": [{"text": text}]}],
                "generationConfig": {"maxOutputTokens": MAX_TOKENS},
            },
        }
        for index, text in enumerate(texts)
    ]


def upload(base_url: str, data: bytes) -> str:
    """`data` as a JSONL file through the Files API's resumable upload; its name."""
    import httpx

    with httpx.Client(headers=HEADERS, timeout=600) as client:
        start = client.post(
            f"{base_url}/upload/v1beta/files",
            json={"file": {"displayName": "requests"}},
            headers={
                "x-goog-upload-protocol": "resumable",
                "x-goog-upload-command": "start",
                "x-goog-upload-header-content-length": str(len(data)),
                "x-goog-upload-header-content-type": "application/jsonl",
            },
        )
        start.raise_for_status()
        done = client.post(
            start.headers["x-goog-upload-url"],
            content=data,
            headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"},
        )
        done.raise_for_status()
        name: str = done.json()["file"]["name"]
        return name


def create(base_url: str, source: dict[str, Any]) -> str:
    """Create a batch of `source` (`{"fileName": ...}` or inline `{"requests": ...}`); its name."""
    import httpx
    import orjson

    body = {"batch": {"displayName": "bench", "inputConfig": source}}
    response = httpx.post(
        f"{base_url}/v1beta/models/{MODEL}:batchGenerateContent",
        content=orjson.dumps(body),
        headers={**HEADERS, "content-type": "application/json"},
        timeout=600,
    )
    response.raise_for_status()
    name: str = response.json()["name"]
    return name


def create_batch(base_url: str, count: int) -> str:
    """Upload the read batch's file and create its batch (setup, not measured); its name."""
    import orjson

    data = b"\n".join(orjson.dumps(line) for line in lines(read_prompts(count)))
    return create(base_url, {"fileName": upload(base_url, data)})


def warm_results(base_url: str, batch_id: str) -> int:
    """Download the responses file once, so the emulator builds it; its size in bytes."""
    import httpx

    with httpx.Client(headers=HEADERS, timeout=600) as client:
        batch = client.get(f"{base_url}/v1beta/{batch_id}").json()
        state = batch["metadata"]["state"]
        if state != "BATCH_STATE_SUCCEEDED":
            raise RuntimeError(f"batch {batch_id} is {state}, not succeeded")
        name = batch["metadata"]["output"]["responsesFile"]
        url = f"{base_url}/v1beta/{name}:download"
        with client.stream("GET", url, params={"alt": "media"}) as response:
            response.raise_for_status()
            return sum(len(chunk) for chunk in response.iter_bytes())


def created_requests(base_url: str) -> int:
    """How many requests the emulator's newest batch holds (checks a submit, untimed)."""
    import httpx

    response = httpx.get(f"{base_url}/v1beta/batches", headers=HEADERS, timeout=600)
    response.raise_for_status()
    operations = response.json().get("operations", [])
    if not operations:
        return 0
    stats = operations[0]["metadata"].get("batchStats", {})
    return int(stats.get("requestCount", 0))
