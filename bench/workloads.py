"""The benchmark's data: deterministic, realistic-looking prompts and replies, and raw setup.

The read cases' batch looks like a real tool-using model's output: each succeeded message has
a `thinking` block (with its base64 `signature`), its text in two `text` blocks around a
`tool_use` block, `stop_reason` "tool_use", and usage with prompt-cache counts. About 5% of the
requests end `errored` and 2% `expired` (the emulator's `[[emulate:...]]` prompt markers).
Everything is derived from the prompt (CRC32 seeds), so every run serves the same bytes.
"""

from __future__ import annotations

import base64
import random
import zlib
from collections.abc import Mapping
from typing import Any

MODEL = "claude-sonnet-4-5"
API_KEY = "sk-ant-bench-0000000000"
HEADERS = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01"}
PROMPT_CHARS = 500
REPLY_CHARS = 400
"""Characters of text per succeeded reply: two text blocks of half as many each."""
THINKING_CHARS = 300
SIGNATURE_BYTES = 150
"""A thinking block's signature: this many bytes, base64 (200 characters)."""
MAX_TOKENS = 1024
ERRORED = {7: "api_error", 27: "overloaded_error", 47: "api_error", 67: "overloaded_error"}
ERRORED |= {87: "api_error"}
"""Requests whose index modulo 100 is a key end `errored` with that error type (5%)."""
EXPIRED = frozenset({13, 63})
"""Requests whose index modulo 100 is here end `expired` (2%)."""

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


def outcome(index: int) -> str:
    """How request `index` of the read batch ends: succeeded, errored or expired."""
    if index % 100 in ERRORED:
        return "errored"
    return "expired" if index % 100 in EXPIRED else "succeeded"


def read_prompts(count: int, errored: Mapping[int, str] = ERRORED) -> list[str]:
    """The read batch's prompts: `prompts(count)`, some with an outcome marker at the end
    (`errored` gives the error type by index modulo 100; its keys are `ERRORED`'s)."""
    made = prompts(count)
    for index in range(count):
        if index % 100 in errored:
            made[index] += f" [[emulate:errored:{errored[index % 100]}]]"
        elif index % 100 in EXPIRED:
            made[index] += " [[emulate:expired]]"
    return made


def prompt_seed(params: dict[str, Any]) -> int:
    """The seed of a request's reply: the CRC32 of its last message's text."""
    content = params["messages"][-1]["content"]
    if not isinstance(content, str):
        content = "".join(block.get("text", "") for block in content)
    return zlib.crc32(content.encode())


def reply_text(params: dict[str, Any]) -> str:
    """A reply's text: two passages of about 200 characters, joined (the two text blocks)."""
    return "".join(_texts(prompt_seed(params)))


def _texts(seed: int) -> tuple[str, str]:
    half = REPLY_CHARS // 2
    return passage(seed, half) + " ", passage(seed * 31 + 7, half)


def reply_content(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The emulator's `reply_content`: thinking, text, tool_use, text (see the module doc)."""
    seed = prompt_seed(params)
    rng = random.Random(seed)
    first, second = _texts(seed)
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return [
        {
            "type": "thinking",
            "thinking": passage(seed * 17 + 3, THINKING_CHARS),
            "signature": base64.b64encode(rng.randbytes(SIGNATURE_BYTES)).decode(),
        },
        {"type": "text", "text": first},
        {
            "type": "tool_use",
            "id": "toolu_" + "".join(rng.choice(alphabet) for _ in range(24)),
            "name": "lookup_order",
            "input": {"order_id": f"ORD-{seed % 1_000_000:06d}", "include_history": seed % 2 == 0},
        },
        {"type": "text", "text": second},
    ]


def reply_usage(params: dict[str, Any]) -> dict[str, Any]:
    """The emulator's `reply_usage`: nonzero prompt-cache counts (the emulator adds
    `cache_creation`'s 5-minute tier and keeps `service_tier` "batch")."""
    seed = prompt_seed(params)
    return {
        "cache_creation_input_tokens": 64 + seed % 256,
        "cache_read_input_tokens": 2048 + seed % 1024,
    }


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
    """Create the read batch of `count` requests with plain httpx (setup, not measured); its
    id. It ends with the `outcome` of each request."""
    import httpx
    import orjson

    body = orjson.dumps({"requests": create_requests(read_prompts(count))})
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
