"""The Gemini rows' cases: reading an ended batch and submitting one, per peer.

Each runs in a measured child exactly as the Anthropic cases do (`bench.child`); `Job`'s
`base_url` is the emulator's `base_url_for("gemini")` (without the API version).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.cases import Case, Job
from bench.gemini_workloads import API_KEY, HEADERS, INLINE_BYTES, MODEL, create, lines, upload
from bench.workloads import MAX_TOKENS, custom_id

# reading ------------------------------------------------------------------------------------

# Every reader consumes what users read of each result: its custom_id (the key), status,
# text (the first candidate's text parts, thoughts left out) and usage.

_SEEN: list[object] = [None]


def _consume(custom_id: object, status: object, text: object, usage: object) -> None:
    """Hold on to the last fields read, so reading them cannot be skipped."""
    _SEEN[0] = (custom_id, status, text, usage)


def read_project(job: Job) -> int:
    from batchwork_prefect import get_batch

    count = 0
    with get_batch(job.batch_id, "gemini", api_key=API_KEY, base_url=job.base_url) as batch:
        for result in batch.results():
            _consume(result.custom_id, result.status, result.text, result.usage)
            count += 1
    return count


def _read_line(item: dict[str, Any]) -> None:
    """What a user reads of one responses file line: its key, its status, and for a
    response the text of its first candidate and its usage."""
    response = item.get("response")
    if response is None:
        _consume(item["key"], "errored", None, None)
        return
    parts = response["candidates"][0]["content"]["parts"]
    text = "".join(part["text"] for part in parts if "text" in part and not part.get("thought"))
    _consume(item["key"], "succeeded", text, response["usageMetadata"])


def read_sdk(job: Job) -> int:
    import json

    from google import genai

    client = genai.Client(
        api_key=API_KEY, http_options={"base_url": job.base_url, "api_version": "v1beta"}
    )
    batch = client.batches.get(name=job.batch_id)
    assert batch.dest is not None and batch.dest.file_name is not None
    # As Gemini's batch guide reads the responses file: `files.download`, decoded, by line.
    data = client.files.download(file=batch.dest.file_name)
    count = 0
    for line in data.decode("utf-8").splitlines():
        if line:
            _read_line(json.loads(line))
            count += 1
    return count


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    rest = b""
    for chunk in chunks:
        found = (rest + chunk).split(b"\n")
        rest = found.pop()
        yield from (line for line in found if line)
    if rest.strip():
        yield rest


def read_raw(job: Job) -> int:
    import httpx
    import orjson

    count = 0
    with httpx.Client(headers=HEADERS, timeout=600) as client:
        batch = client.get(f"{job.base_url}/v1beta/{job.batch_id}").json()
        name = batch["metadata"]["output"]["responsesFile"]
        url = f"{job.base_url}/v1beta/{name}:download"
        with client.stream("GET", url, params={"alt": "media"}) as response:
            for line in _lines(response.iter_bytes()):
                _read_line(orjson.loads(line))
                count += 1
    return count


# submitting ---------------------------------------------------------------------------------


def submit_project(job: Job) -> int:
    from batchwork_prefect import batch

    requests = [{"custom_id": custom_id(i), "prompt": text} for i, text in enumerate(job.prompts)]
    with batch(
        f"gemini/{MODEL}",
        requests,
        defaults={"max_tokens": MAX_TOKENS},
        api_key=API_KEY,
        base_url=job.base_url,
    ) as submitted:
        return submitted.request_counts.total


def submit_sdk(job: Job) -> int:
    """As Gemini's guide does: inline requests while they stay under 20 MB, else a JSONL
    file (`json.dumps` per line) uploaded with `files.upload`, then `batches.create`."""
    import io
    import json

    from google import genai

    client = genai.Client(
        api_key=API_KEY, http_options={"base_url": job.base_url, "api_version": "v1beta"}
    )
    made = lines(list(job.prompts))
    data = "\n".join(json.dumps(line) for line in made).encode()
    if len(data) <= INLINE_BYTES:
        inline = [
            {
                "contents": line["request"]["contents"],
                "config": {"max_output_tokens": MAX_TOKENS},
                "metadata": {"key": line["key"]},
            }
            for line in made
        ]
        client.batches.create(model=MODEL, src=inline)  # type: ignore[arg-type]
    else:
        uploaded = client.files.upload(
            file=io.BytesIO(data), config={"mime_type": "application/jsonl"}
        )
        assert uploaded.name is not None
        client.batches.create(model=MODEL, src=uploaded.name)
    return len(made)


def submit_raw(job: Job) -> int:
    import orjson

    made = lines(list(job.prompts))
    encoded = [orjson.dumps(line) for line in made]
    if sum(map(len, encoded)) <= INLINE_BYTES:
        requests = [{"request": line["request"], "metadata": {"key": line["key"]}} for line in made]
        create(job.base_url, {"requests": {"requests": requests}})
    else:
        create(job.base_url, {"fileName": upload(job.base_url, b"\n".join(encoded))})
    return len(made)


PROJECT = "batchwork-prefect (this project)"
SDK = "google-genai SDK"
RAW = "raw httpx + orjson (floor)"

READERS = (
    Case(
        "project",
        PROJECT + ': `get_batch(id, "gemini").results()`',
        ("batchwork_prefect",),
        read_project,
    ),
    Case(
        "sdk",
        SDK + ": `batches.get()`, `files.download()`, `json.loads` per line",
        ("google.genai",),
        read_sdk,
    ),
    Case(
        "raw",
        RAW + ": get the batch, stream the responses file, split lines, `orjson.loads`",
        ("httpx", "orjson"),
        read_raw,
    ),
)
SUBMITTERS = (
    Case("project", PROJECT + ': `batch("gemini/...")`', ("batchwork_prefect",), submit_project),
    Case(
        "sdk",
        SDK + ": inline `batches.create()` (a file through `files.upload()` past 20 MB)",
        ("google.genai",),
        submit_sdk,
    ),
    Case(
        "raw",
        RAW + ": `orjson.dumps` per request, inline create (a resumable upload past 20 MB)",
        ("httpx", "orjson"),
        submit_raw,
    ),
)
CASES = {f"gemini/read/{case.key}": case for case in READERS} | {
    f"gemini/submit/{case.key}": case for case in SUBMITTERS
}
