"""The OpenAI rows' data: a Chat Completions batch as OpenAI's Batch API returns it.

The output file holds `chat.completion` lines (`choices[0].message` with `content`,
`refusal` null and `annotations` [], usage with `prompt_tokens_details` and
`completion_tokens_details`, `service_tier` and `system_fingerprint`), as the emulator
writes them; the bench's `reply_content` hook decides each reply: about 10% are a tool call
alone (`content` null, `tool_calls`, `finish_reason` "tool_calls"), the rest multi-sentence
text (`finish_reason` "stop"). The error file holds about 5% errored lines (a 500
`server_error` or a 400 `invalid_request_error` response) and 2% `batch_expired` lines
(`response` null), from the same `[[emulate:...]]` prompt markers as the Anthropic batch.
Everything is derived from the prompt (CRC32 seeds), so every run serves the same bytes.
"""

from __future__ import annotations

import random
from typing import Any

from bench import workloads
from bench.workloads import (
    MAX_TOKENS,
    REPLY_CHARS,
    custom_id,
    passage,
    prompt_seed,
)

MODEL = "gpt-4.1-mini"
API_KEY = "sk-proj-bench-0000000000"
HEADERS = {"authorization": f"Bearer {API_KEY}"}
ENDPOINT = "/v1/chat/completions"
MAX_SIZE = 50_000
"""OpenAI's limit of requests per batch (one input file)."""
ERRORED = {  # the same indices as the Anthropic read batch's, so `outcome` holds for both
    7: "api_error",
    27: "invalid_request_error",
    47: "api_error",
    67: "invalid_request_error",
    87: "api_error",
}
"""Requests whose index modulo 100 is a key end errored: the emulator answers `api_error` with
a 500 `server_error` and `invalid_request_error` with a 400 (5%)."""
TOOL_CALL_EVERY = 10
"""A reply whose prompt's seed is a multiple of this is a tool call alone (about 10%)."""


def size(requested: int) -> int:
    """The OpenAI rows' batch size for a run of `requested`: at most one OpenAI batch."""
    return min(requested, MAX_SIZE)


def read_prompts(count: int) -> list[str]:
    """The read batch's prompts: the Anthropic read batch's, with OpenAI's error types."""
    return workloads.read_prompts(count, ERRORED)


def is_tool_call(params: dict[str, Any]) -> bool:
    """Whether the reply to `params` is a tool call alone (no text)."""
    return prompt_seed(params) % TOOL_CALL_EVERY == 0


def reply_text(params: dict[str, Any]) -> str | None:
    """The reply's `message.content`: None for a tool call, else about REPLY_CHARS characters."""
    if is_tool_call(params):
        return None
    return passage(prompt_seed(params), REPLY_CHARS)


def reply_content(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The emulator's `reply_content` (Anthropic-shaped blocks; the emulator turns a text
    block into `content` and a `tool_use` block into a `tool_calls` entry)."""
    seed = prompt_seed(params)
    if is_tool_call(params):
        rng = random.Random(seed)
        order = {"order_id": f"ORD-{seed % 1_000_000:06d}", "include_history": rng.random() < 0.5}
        return [{"type": "tool_use", "name": "lookup_order", "input": order}]
    return [{"type": "text", "text": passage(seed, REPLY_CHARS)}]


def input_lines(texts: list[str]) -> list[dict[str, Any]]:
    """The input file's lines for `texts`, as the SDK's and the raw floor's users write them."""
    return [
        {
            "custom_id": custom_id(index),
            "method": "POST",
            "url": ENDPOINT,
            "body": {
                "model": MODEL,
                "max_completion_tokens": MAX_TOKENS,
                "messages": [{"role": "user", "content": text}],
            },
        }
        for index, text in enumerate(texts)
    ]


def upload_and_create(base_url: str, data: bytes, filename: str = "requests.jsonl") -> str:
    """Upload `data` as a batch input file and create its batch, as a user of plain httpx +
    orjson does (the raw floor's submit); the batch's id."""
    import httpx
    import orjson

    with httpx.Client(headers=HEADERS, timeout=600) as client:
        uploaded = client.post(
            f"{base_url}/files",
            files={"file": (filename, data, "application/jsonl")},
            data={"purpose": "batch"},
        )
        uploaded.raise_for_status()
        body = {
            "input_file_id": uploaded.json()["id"],
            "endpoint": ENDPOINT,
            "completion_window": "24h",
        }
        created = client.post(
            f"{base_url}/batches",
            content=orjson.dumps(body),
            headers={"content-type": "application/json"},
        )
        created.raise_for_status()
        batch_id: str = created.json()["id"]
        return batch_id


def create_batch(base_url: str, count: int) -> str:
    """Upload the read batch's input file and create its batch with plain httpx (setup, not
    measured); its id. `base_url` is the emulator's `openai_base_url`."""
    import orjson

    data = b"\n".join(orjson.dumps(line) for line in input_lines(read_prompts(count)))
    return upload_and_create(base_url, data, "read.jsonl")


def warm_results(base_url: str, batch_id: str) -> tuple[int, int]:
    """Download the output and error files once, so the emulator builds and caches them;
    their sizes in bytes. Raises if the batch has not completed."""
    import httpx

    sizes = []
    with httpx.Client(headers=HEADERS, timeout=600) as client:
        retrieved = client.get(f"{base_url}/batches/{batch_id}")
        retrieved.raise_for_status()
        batch = retrieved.json()
        if batch["status"] != "completed":
            raise RuntimeError(f"batch {batch_id} is {batch['status']}, not completed")
        for key in ("output_file_id", "error_file_id"):
            if batch[key] is None:
                sizes.append(0)
                continue
            url = f"{base_url}/files/{batch[key]}/content"
            with client.stream("GET", url) as response:
                response.raise_for_status()
                sizes.append(sum(len(chunk) for chunk in response.iter_bytes()))
    return sizes[0], sizes[1]


def created_requests(base_url: str) -> int:
    """How many requests the emulator's newest batch holds (checks a submit, untimed)."""
    import httpx

    response = httpx.get(f"{base_url}/batches", params={"limit": 1}, headers=HEADERS, timeout=600)
    response.raise_for_status()
    data = response.json()["data"]
    return int(data[0]["request_counts"]["total"]) if data else 0
