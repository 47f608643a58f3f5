"""The Together read rows: one ended batch read by this project, the together SDK and raw
httpx + orjson, each in a measured child as the other rows are (`bench.child`).

The batch is made with plain httpx (setup, not measured): the input file uploaded to
`/v1/files/upload`, a batch of it created, the emulator's clock moved on, both result
files downloaded once so the emulator builds them. `Job.base_url` is the emulator's
Together base URL (its base URL + `/together`, without `/v1`, as the SDK takes it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.cases import Case, Job
from bench.openai_workloads import read_prompts, reply_content
from bench.workloads import MAX_TOKENS, custom_id

MODEL = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
API_KEY = "tgp-bench-0000000000"
HEADERS = {"authorization": f"Bearer {API_KEY}"}
MAX_SIZE = 50_000
"""Together's limit of requests per batch."""

__all__ = ["CASES", "READERS", "create_batch", "reply_content", "size"]


def size(requested: int) -> int:
    """The Together rows' batch size for a run of `requested`: at most one batch."""
    return min(requested, MAX_SIZE)


def input_lines(texts: list[str]) -> list[dict[str, Any]]:
    """The input file's lines for `texts`: `{custom_id, body}`."""
    return [
        {
            "custom_id": custom_id(index),
            "body": {
                "model": MODEL,
                "max_tokens": MAX_TOKENS,
                "messages": [{"role": "user", "content": text}],
            },
        }
        for index, text in enumerate(texts)
    ]


def create_batch(base_url: str, count: int) -> tuple[str, int, int]:
    """Upload the read batch's file, create its batch and download its results once (setup,
    not measured); its id and the output and error files' sizes. The emulator must end
    batches at once (its default)."""
    import httpx
    import orjson

    data = b"\n".join(orjson.dumps(line) for line in input_lines(read_prompts(count)))
    with httpx.Client(base_url=base_url, headers=HEADERS, timeout=600) as client:
        uploaded = client.post(
            "/v1/files/upload",
            data={"purpose": "batch-api", "file_name": "read.jsonl", "file_type": "jsonl"},
            files={"file": ("read.jsonl", data, "application/jsonl")},
        )
        uploaded.raise_for_status()
        body = {"input_file_id": uploaded.json()["id"], "endpoint": "/v1/chat/completions"}
        created = client.post("/v1/batches", json=body)
        created.raise_for_status()
        batch_id: str = created.json()["job"]["id"]
        batch = client.get(f"/v1/batches/{batch_id}").json()
        if batch["status"] != "COMPLETED":
            raise RuntimeError(f"batch {batch_id} is {batch['status']}, not COMPLETED")
        sizes = []
        for key in ("output_file_id", "error_file_id"):
            if not batch[key]:
                sizes.append(0)
                continue
            with client.stream("GET", f"/v1/files/{batch[key]}/content") as response:
                response.raise_for_status()
                sizes.append(sum(len(chunk) for chunk in response.iter_bytes()))
    return batch_id, sizes[0], sizes[1]


# Every reader consumes what users read of each result: its custom_id (the files are in no
# particular order), status, text and usage.

_SEEN: list[object] = [None]


def _consume(custom_id: object, status: object, text: object, usage: object) -> None:
    """Hold on to the last fields read, so reading them cannot be skipped."""
    _SEEN[0] = (custom_id, status, text, usage)


def read_project(job: Job) -> int:
    from batchwork_prefect import get_batch

    count = 0
    with get_batch(job.batch_id, "together", api_key=API_KEY, base_url=job.base_url) as batch:
        for result in batch.results():
            _consume(result.custom_id, result.status, result.text, result.usage)
            count += 1
    return count


def _read_line(item: dict[str, Any]) -> None:
    """What a user reads of one output or error file line: its custom_id, its status, and
    for a success the text of its first choice and its usage."""
    response = item.get("response")
    if response is not None and response["status_code"] == 200:
        completion = response["body"]
        text = completion["choices"][0]["message"]["content"]
        _consume(item["custom_id"], "succeeded", text, completion["usage"])
    else:
        _consume(item["custom_id"], "errored", None, None)


def read_sdk(job: Job) -> int:
    import json

    import together

    count = 0
    with together.Together(api_key=API_KEY, base_url=job.base_url) as client:
        batch = client.batches.retrieve(job.batch_id)
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            # As Together's batch guide reads a file: `files.content(id)`, line by line.
            for line in client.files.content(file_id).text().splitlines():
                if line:
                    _read_line(json.loads(line))
                    count += 1
    return count


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    rest = b""
    for chunk in chunks:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from (line for line in lines if line)
    if rest.strip():
        yield rest


def read_raw(job: Job) -> int:
    import httpx
    import orjson

    count = 0
    with httpx.Client(base_url=job.base_url, headers=HEADERS, timeout=600) as client:
        batch = client.get(f"/v1/batches/{job.batch_id}").json()
        for key in ("output_file_id", "error_file_id"):
            if not batch[key]:
                continue
            with client.stream("GET", f"/v1/files/{batch[key]}/content") as response:
                for line in _lines(response.iter_bytes()):
                    _read_line(orjson.loads(line))
                    count += 1
    return count


PROJECT = "batchwork-prefect (this project)"
READERS = (
    Case(
        "project",
        PROJECT + ': `get_batch(id, "together").results()`',
        ("batchwork_prefect",),
        read_project,
    ),
    Case(
        "sdk",
        "together SDK: `batches.retrieve()`, `files.content().text()`, `json.loads` per line",
        ("together",),
        read_sdk,
    ),
    Case(
        "raw",
        "raw httpx + orjson (floor): retrieve, stream both files, split lines, `orjson.loads`",
        ("httpx", "orjson"),
        read_raw,
    ),
)
CASES = {f"together/read/{case.key}": case for case in READERS}
