"""The benchmark's data: deterministic, realistic-looking prompts and replies, and raw setup."""

from __future__ import annotations

import random
import zlib
from typing import Any

MODEL = "claude-sonnet-4-5"
API_KEY = "sk-ant-bench-0000000000"
HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
PROMPT_CHARS = 500
REPLY_CHARS = 400
MAX_TOKENS = 1024

_VOCABULARY = (
    "the customer reports that their order arrived late and the package was damaged during "
    "shipping so they would like a replacement or a refund within the next week please review "
    "account history before replying because previous tickets mention a billing error on the "
    "invoice from march and the support team promised a follow up call that never happened "
    "summary: delivery delayed carrier lost tracking update warehouse confirmed stock levels "
    "priority high sentiment frustrated but polite resolution offered expedited shipping credit "
    "applied to the account and apology sent by email next steps monitor the new shipment"
)


def _corpus(words: int = 12_000) -> str:
    vocabulary = _VOCABULARY.split()
    rng = random.Random(2026)
    sentences: list[str] = []
    while words > 0:
        length = rng.randint(8, 20)
        sentence = " ".join(rng.choice(vocabulary) for _ in range(length))
        sentences.append(sentence[0].upper() + sentence[1:] + ".")
        words -= length
    return " ".join(sentences)


CORPUS = _corpus()


def passage(seed: int, chars: int) -> str:
    """About `chars` characters of prose (cut at a word boundary), chosen by `seed`."""
    start = seed % (len(CORPUS) - chars - 64)
    start = CORPUS.index(" ", start) + 1
    return CORPUS[start : start + chars + 1].rsplit(" ", 1)[0]


def custom_id(index: int) -> str:
    """The custom_id of request `index`."""
    return f"req-{index:06d}"


def prompts(count: int, chars: int = PROMPT_CHARS) -> list[str]:
    """`count` distinct prompts of about `chars` characters each."""
    made = []
    for index in range(count):
        head = f"Ticket {index}: summarize the issue in two sentences. "
        made.append(head + passage(index * 7919, chars - len(head)))
    return made


def reply_text(params: dict[str, Any]) -> str:
    """The emulator's reply: about 400 characters of prose derived from the prompt."""
    content = params["messages"][-1]["content"]
    if not isinstance(content, str):
        content = "".join(block.get("text", "") for block in content)
    return passage(zlib.crc32(content.encode()), REPLY_CHARS)


def create_requests(texts: list[str]) -> list[dict[str, Any]]:
    """Anthropic create-batch request entries for `texts`."""
    return [
        {
            "custom_id": custom_id(index),
            "params": {
                "model": MODEL,
                "max_tokens": MAX_TOKENS,
                "messages": [{"role": "user", "content": text}],
            },
        }
        for index, text in enumerate(texts)
    ]


def create_batch(base_url: str, count: int) -> str:
    """Create a batch of `count` requests with plain httpx (setup, not measured); its id."""
    import httpx
    import orjson

    body = orjson.dumps({"requests": create_requests(prompts(count))})
    response = httpx.post(
        f"{base_url}/v1/messages/batches",
        content=body,
        headers={**HEADERS, "content-type": "application/json"},
        timeout=600,
    )
    response.raise_for_status()
    batch_id: str = response.json()["id"]
    return batch_id


def warm_results(base_url: str, batch_id: str) -> int:
    """Download the results once, so the emulator builds and caches them; their size in bytes."""
    import httpx

    with httpx.Client(headers=HEADERS, timeout=600) as client:
        retrieved = client.get(f"{base_url}/v1/messages/batches/{batch_id}")
        retrieved.raise_for_status()
        with client.stream("GET", retrieved.json()["results_url"]) as response:
            response.raise_for_status()
            return sum(len(chunk) for chunk in response.iter_bytes())
