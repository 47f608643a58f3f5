"""The Mistral read row: reading an ended batch job, this project vs the mistralai SDK vs
raw httpx + orjson, each in a measured child (`bench.child`) with its import included.

The job is the OpenAI rows' batch (the same prompts and replies, 5% errored lines in the
error file; no expired ones: a Mistral job that succeeds leaves no request unrun) sent to
the emulator's Mistral routes as a file of `{custom_id, body}` lines. `Job.base_url` is
`Emulator.base_url_for("mistral")`.
`python -m bench --only mistral` runs it and writes its table alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.cases import Case, Job
from bench.openai_workloads import ERRORED
from bench.openai_workloads import reply_content as reply_content  # the job's replies
from bench.workloads import MAX_TOKENS, custom_id, prompts

MODEL = "mistral-small-latest"
API_KEY = "mistral-bench-0000000000"
HEADERS = {"authorization": f"Bearer {API_KEY}"}
MAX_SIZE = 50_000
"""The same size as the OpenAI rows (Mistral itself takes up to 1,000,000 a job)."""

_SEEN: list[object] = [None]


def _consume(custom_id: object, status: object, text: object, usage: object) -> None:
    """Hold on to the last fields read, so reading them cannot be skipped."""
    _SEEN[0] = (custom_id, status, text, usage)


def _read_line(item: dict[str, Any]) -> None:
    """What a user reads of one result line: custom_id, status, and for a success the first
    choice's content and the usage."""
    response = item["response"]
    if response is not None and response["status_code"] == 200:
        completion = response["body"]
        text = completion["choices"][0]["message"]["content"]
        _consume(item["custom_id"], "succeeded", text, completion["usage"])
    else:
        _consume(item["custom_id"], "errored", None, None)


def read_project(job: Job) -> int:
    from batchwork_prefect import get_batch

    count = 0
    with get_batch(job.batch_id, "mistral", api_key=API_KEY, base_url=job.base_url) as batch:
        for result in batch.results():
            _consume(result.custom_id, result.status, result.text, result.usage)
            count += 1
    return count


def read_sdk(job: Job) -> int:
    import json

    from mistralai.client import Mistral

    count = 0
    with Mistral(api_key=API_KEY, server_url=job.base_url) as client:
        done = client.batch.jobs.get(job_id=job.batch_id)
        for file_id in (done.output_file, done.error_file):
            if not isinstance(file_id, str):
                continue
            # As Mistral's batch guide reads a file: `files.download(id).read()`, then lines.
            for line in client.files.download(file_id=file_id).read().splitlines():
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
        done = client.get(f"{job.base_url}/v1/batch/jobs/{job.batch_id}").json()
        for key in ("output_file", "error_file"):
            if done[key] is None:
                continue
            url = f"{job.base_url}/v1/files/{done[key]}/content"
            with client.stream("GET", url) as response:
                for line in _lines(response.iter_bytes()):
                    _read_line(orjson.loads(line))
                    count += 1
    return count


READERS = (
    Case(
        "project",
        'batchwork-prefect (this project): `get_batch(id, "mistral").results()`',
        ("batchwork_prefect",),
        read_project,
    ),
    Case(
        "sdk",
        "mistralai SDK: `batch.jobs.get()`, `files.download().read()`, `json.loads` per line",
        ("mistralai.client",),
        read_sdk,
    ),
    Case(
        "raw",
        "raw httpx + orjson (floor): get the job, stream both files, split lines, `orjson.loads`",
        ("httpx", "orjson"),
        read_raw,
    ),
)
CASES = {f"mistral/read/{case.key}": case for case in READERS}


def read_prompts(count: int) -> list[str]:
    """The read job's prompts: the bench's, every 100 with OpenAI's five errored markers."""
    made = prompts(count)
    for index in range(count):
        if index % 100 in ERRORED:
            made[index] += f" [[emulate:errored:{ERRORED[index % 100]}]]"
    return made


def create_job(base_url: str, count: int) -> str:
    """Upload the read job's input file and create its job with plain httpx (setup, not
    measured); its id, once it has ended and its files were built."""
    import httpx
    import orjson

    lines = [
        {
            "custom_id": custom_id(index),
            "body": {"max_tokens": MAX_TOKENS, "messages": [{"role": "user", "content": text}]},
        }
        for index, text in enumerate(read_prompts(count))
    ]
    data = b"\n".join(orjson.dumps(line) for line in lines) + b"\n"
    with httpx.Client(headers=HEADERS, timeout=600) as client:
        uploaded = client.post(
            f"{base_url}/v1/files", files={"file": ("read.jsonl", data)}, data={"purpose": "batch"}
        )
        uploaded.raise_for_status()
        body = {
            "input_files": [uploaded.json()["id"]],
            "model": MODEL,
            "endpoint": "/v1/chat/completions",
        }
        created = client.post(f"{base_url}/v1/batch/jobs", json=body)
        created.raise_for_status()
        job_id: str = created.json()["id"]
        done = client.get(f"{base_url}/v1/batch/jobs/{job_id}").json()
        if done["status"] != "SUCCESS":
            raise RuntimeError(f"job {job_id} is {done['status']}, not SUCCESS")
        return job_id
