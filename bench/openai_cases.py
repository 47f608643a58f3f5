"""The OpenAI rows' cases: reading an ended batch and submitting one, per peer.

Each runs in a measured child exactly as the Anthropic cases do (`bench.child`); `Job`'s
`base_url` is the emulator's `openai_base_url` (with its `/v1`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from bench.cases import Case, Job
from bench.openai_workloads import (
    API_KEY,
    ENDPOINT,
    HEADERS,
    MODEL,
    input_lines,
    upload_and_create,
)
from bench.workloads import MAX_TOKENS, custom_id

# reading ------------------------------------------------------------------------------------

# Every reader consumes what users read of each result: its custom_id (OpenAI's files are in
# no particular order, so results are matched to requests by it), status, text and usage.

_SEEN: list[object] = [None]


def _consume(custom_id: object, status: object, text: object, usage: object) -> None:
    """Hold on to the last fields read, so reading them cannot be skipped."""
    _SEEN[0] = (custom_id, status, text, usage)


def read_project(job: Job) -> int:
    from batchwork_prefect import get_batch

    count = 0
    with get_batch(job.batch_id, "openai", api_key=API_KEY, base_url=job.base_url) as batch:
        for result in batch.results():
            _consume(result.custom_id, result.status, result.text, result.usage)
            count += 1
    return count


def _read_line(item: dict[str, Any]) -> None:
    """What a user reads of one output or error file line: its custom_id, its status, and for
    a success the text of its first choice and its usage."""
    custom_id, response = item["custom_id"], item["response"]
    if response is None:  # a request the batch did not run
        code = item["error"]["code"]
        status = {"batch_expired": "expired", "batch_cancelled": "canceled"}.get(code, "errored")
        _consume(custom_id, status, None, None)
    elif response["status_code"] == 200:
        completion = response["body"]
        text = completion["choices"][0]["message"]["content"]
        _consume(custom_id, "succeeded", text, completion["usage"])
    else:
        _consume(custom_id, "errored", None, None)


def read_sdk(job: Job) -> int:
    import json

    import openai

    count = 0
    with openai.OpenAI(api_key=API_KEY, base_url=job.base_url) as client:
        batch = client.batches.retrieve(job.batch_id)
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id is None:
                continue
            # As OpenAI's batch guide reads a file: `files.content(id).text`, line by line.
            for line in client.files.content(file_id).text.splitlines():
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
    with httpx.Client(headers=HEADERS, timeout=600) as client:
        batch = client.get(f"{job.base_url}/batches/{job.batch_id}").json()
        for key in ("output_file_id", "error_file_id"):
            if batch[key] is None:
                continue
            url = f"{job.base_url}/files/{batch[key]}/content"
            with client.stream("GET", url) as response:
                for line in _lines(response.iter_bytes()):
                    _read_line(orjson.loads(line))
                    count += 1
    return count


# submitting ---------------------------------------------------------------------------------


def submit_project(job: Job) -> int:
    from batchwork_prefect import batch

    requests = [{"custom_id": custom_id(i), "prompt": text} for i, text in enumerate(job.prompts)]
    with batch(
        f"openai/{MODEL}",
        requests,
        defaults={"max_tokens": MAX_TOKENS},
        api_key=API_KEY,
        base_url=job.base_url,
    ) as submitted:
        return submitted.request_counts.total


def submit_sdk(job: Job) -> int:
    import json

    import openai

    lines = input_lines(list(job.prompts))
    data = "\n".join(json.dumps(line) for line in lines).encode()
    with openai.OpenAI(api_key=API_KEY, base_url=job.base_url) as client:
        uploaded = client.files.create(file=("requests.jsonl", data), purpose="batch")
        client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window="24h")
    # A new batch reports no counts while validating; the suite checks the batch it made.
    return len(lines)


def submit_raw(job: Job) -> int:
    import orjson

    lines = input_lines(list(job.prompts))
    upload_and_create(job.base_url, b"\n".join(orjson.dumps(line) for line in lines))
    return len(lines)


def encode_file(job: Job) -> Job:
    import orjson

    lines = input_lines(list(job.prompts))
    return replace(job, body=b"\n".join(orjson.dumps(line) for line in lines))


def upload_file(job: Job) -> int:
    upload_and_create(job.base_url, job.body)
    return len(job.prompts)


PROJECT = "batchwork-prefect (this project)"
SDK = "openai SDK"
RAW = "raw httpx + orjson (floor)"

READERS = (
    Case(
        "project",
        PROJECT + ': `get_batch(id, "openai").results()`',
        ("batchwork_prefect",),
        read_project,
    ),
    Case(
        "sdk",
        SDK + ": `batches.retrieve()`, `files.content().text`, `json.loads` per line",
        ("openai",),
        read_sdk,
    ),
    Case(
        "raw",
        RAW + ": retrieve, stream both files, split lines, `orjson.loads`",
        ("httpx", "orjson"),
        read_raw,
    ),
)
SUBMITTERS = (
    Case("project", PROJECT + ': `batch("openai/...")`', ("batchwork_prefect",), submit_project),
    Case(
        "sdk",
        SDK + ": `json.dumps` per line, `files.create()`, `batches.create()`",
        ("openai",),
        submit_sdk,
    ),
    Case(
        "raw",
        RAW + ": `orjson.dumps` per line, multipart upload, create",
        ("httpx", "orjson"),
        submit_raw,
    ),
)
UPLOAD_ONLY = Case(
    "upload-only",
    "reference, not a peer: the upload and create of an already-encoded file (transfer + "
    "emulator time)",
    ("httpx", "orjson"),
    upload_file,
    prepare=encode_file,
)
CASES = {f"openai/read/{case.key}": case for case in READERS} | {
    f"openai/submit/{case.key}": case for case in (*SUBMITTERS, UPLOAD_ONLY)
}
