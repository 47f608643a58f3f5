"""What a measured child process runs: one function per operation and peer.

Each case names the modules it needs. The child's first statement starts one clock; the
child imports the case's modules, builds its inputs (that time is not counted), then runs
the case: the fresh-process time counts the import and the run, the in-process time the run
alone. A baseline child imports exactly the same modules (and builds the same inputs) and
stops, so the memory the imports take is shown apart.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from bench.workloads import API_KEY, HEADERS, MAX_TOKENS, MODEL, create_requests, custom_id


@dataclass(frozen=True)
class Job:
    """A child's inputs: where the emulator is, which batch to read, what to submit, which
    persisted results to load."""

    base_url: str = ""
    batch_id: str = ""
    prompts: tuple[str, ...] = ()
    body: bytes = b""
    storage: str = ""
    """The folder of a `LocalFileSystem` block holding persisted results."""
    scope: str = ""
    """The scope those results were persisted under."""
    record: str = ""
    """The path of the results record itself (for the raw read)."""


@dataclass(frozen=True)
class Case:
    """One measured operation of one peer."""

    key: str
    label: str
    modules: tuple[str, ...]
    run: Callable[[Job], int]
    """Does the work; returns how many results were read or requests were submitted."""
    prepare: Callable[[Job], Job] | None = None
    """Untimed input preparation, done in the baseline child too."""

    @property
    def installed(self) -> bool:
        """Whether every module the case needs can be imported."""
        return all(importlib.util.find_spec(module) is not None for module in self.modules)


# reading ------------------------------------------------------------------------------------


# Every reader consumes what users read of each result: its status, its text and its usage
# (a count alone would leave lazily decoded fields unread and flatter the reader).


def read_project(job: Job) -> int:
    from batchwork_prefect import get_batch

    count = 0
    with get_batch(job.batch_id, api_key=API_KEY, base_url=job.base_url) as batch:
        for result in batch.results():
            _consume(result.status, result.text, result.usage)
            count += 1
    return count


def collect_project(job: Job) -> int:
    from batchwork_prefect import get_batch

    with get_batch(job.batch_id, api_key=API_KEY, base_url=job.base_url) as batch:
        results = batch.collect()
    for result in results.values():
        _consume(result.status, result.text, result.usage)
    return len(results)


def read_sdk(job: Job) -> int:
    import anthropic

    count = 0
    with anthropic.Anthropic(api_key=API_KEY, base_url=job.base_url) as client:
        for line in client.messages.batches.results(job.batch_id):
            outcome = line.result
            if outcome.type == "succeeded":
                message = outcome.message
                text = "".join(block.text for block in message.content if block.type == "text")
                _consume(outcome.type, text, message.usage)
            else:
                _consume(outcome.type, None, None)
            count += 1
    return count


def read_batchwork_ai(job: Job) -> int:
    import asyncio

    from batchwork import BatchRef, Batchwork

    async def read() -> int:
        ref = BatchRef(
            id=job.batch_id, provider="anthropic", api_key=API_KEY, base_url=job.base_url
        )
        async with Batchwork() as client:
            count = 0
            async for result in client.get_batch_results(ref):
                _consume(result.status, result.text, result.usage)
                count += 1
            return count

    return asyncio.run(read())


def read_raw(job: Job) -> int:
    import httpx
    import orjson

    def consume(line: bytes) -> None:
        outcome = orjson.loads(line)["result"]
        if outcome["type"] == "succeeded":
            message = outcome["message"]
            text = "".join(b["text"] for b in message["content"] if b["type"] == "text")
            _consume(outcome["type"], text, message["usage"])
        else:
            _consume(outcome["type"], None, None)

    count = 0
    with httpx.Client(headers=HEADERS, timeout=600) as client:
        batch = client.get(f"{job.base_url}/v1/messages/batches/{job.batch_id}").json()
        with client.stream("GET", batch["results_url"]) as response:
            rest = b""
            for chunk in response.iter_bytes():
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    if line:
                        consume(line)
                        count += 1
            if rest.strip():
                consume(rest)
                count += 1
    return count


# loading persisted results ------------------------------------------------------------------


def load_project(job: Job) -> int:
    from prefect.filesystems import LocalFileSystem

    from batchwork_prefect import load_batch_results

    results = load_batch_results(job.scope, storage=LocalFileSystem(basepath=job.storage))
    for result in results.values():
        _consume(result.status, result.text, result.usage)
    return len(results)


def load_raw(job: Job) -> int:
    import orjson

    with open(job.record, "rb") as file:
        record = orjson.loads(file.read())
    count = 0
    for result in orjson.loads(record["result"])["results"]:
        _consume(result["status"], result["text"], result["usage"])
        count += 1
    return count


_SEEN: list[object] = [None]


def _consume(status: object, text: object, usage: object) -> None:
    """Hold on to the last fields read, so reading them cannot be skipped."""
    _SEEN[0] = (status, text, usage)


# submitting ---------------------------------------------------------------------------------


def submit_project(job: Job) -> int:
    from batchwork_prefect import batch

    requests = [{"custom_id": custom_id(i), "prompt": text} for i, text in enumerate(job.prompts)]
    with batch(
        f"anthropic/{MODEL}",
        requests,
        defaults={"max_tokens": MAX_TOKENS},
        api_key=API_KEY,
        base_url=job.base_url,
    ) as submitted:
        return submitted.request_counts.total


def submit_sdk(job: Job) -> int:
    import anthropic

    with anthropic.Anthropic(api_key=API_KEY, base_url=job.base_url) as client:
        requests = create_requests(list(job.prompts))  # the SDK's `Request` TypedDict shape
        created = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        counts = created.request_counts
        return counts.processing + counts.succeeded + counts.errored


def submit_batchwork_ai(job: Job) -> int:
    import asyncio

    from batchwork import BatchDefaults, BatchLimits, BatchRequest, Batchwork

    async def submit() -> int:
        requests = [
            BatchRequest(custom_id=custom_id(i), prompt=p) for i, p in enumerate(job.prompts)
        ]
        async with Batchwork() as client:
            submitted = await client.batch(
                model=f"anthropic/{MODEL}",
                requests=requests,
                defaults=BatchDefaults(max_output_tokens=MAX_TOKENS),
                # batchwork-ai caps a batch at 50,000 requests by default; Anthropic allows 100,000.
                limits=BatchLimits(max_requests=100_000),
                api_key=API_KEY,
                base_url=job.base_url,
            )
            return submitted.request_counts.total

    return asyncio.run(submit())


def submit_raw(job: Job) -> int:
    import httpx
    import orjson

    body = orjson.dumps({"requests": create_requests(list(job.prompts))})
    headers = {**HEADERS, "content-type": "application/json"}
    response = httpx.post(
        f"{job.base_url}/v1/messages/batches", content=body, headers=headers, timeout=600
    )
    response.raise_for_status()
    counts: dict[str, Any] = response.json()["request_counts"]
    return int(counts["processing"]) + int(counts["succeeded"])


def encode_body(job: Job) -> Job:
    import orjson

    return replace(job, body=orjson.dumps({"requests": create_requests(list(job.prompts))}))


def post_body(job: Job) -> int:
    import httpx

    headers = {**HEADERS, "content-type": "application/json"}
    response = httpx.post(
        f"{job.base_url}/v1/messages/batches", content=job.body, headers=headers, timeout=600
    )
    response.raise_for_status()
    return int(response.json()["request_counts"]["processing"])


PROJECT = "batchwork-prefect (this project)"
SDK = "anthropic SDK"
BATCHWORK_AI = "batchwork-ai"
RAW = "raw httpx + orjson (floor)"

READERS = (
    Case("project", PROJECT + ": `job.results()`", ("batchwork_prefect",), read_project),
    Case("sdk", SDK + ": `messages.batches.results()`", ("anthropic",), read_sdk),
    Case(
        "batchwork-ai", BATCHWORK_AI + ": `get_batch_results()`", ("batchwork",), read_batchwork_ai
    ),
    Case("raw", RAW + ": stream, split lines, `orjson.loads`", ("httpx", "orjson"), read_raw),
)
COLLECT = Case("collect", PROJECT + ": `job.collect()`", ("batchwork_prefect",), collect_project)
SUBMITTERS = (
    Case("project", PROJECT + ": `batch()`", ("batchwork_prefect",), submit_project),
    Case("sdk", SDK + ": `messages.batches.create()`", ("anthropic",), submit_sdk),
    Case(
        "batchwork-ai", BATCHWORK_AI + ": `Batchwork.batch()`", ("batchwork",), submit_batchwork_ai
    ),
    Case("raw", RAW + ": `orjson.dumps` + one POST", ("httpx", "orjson"), submit_raw),
)
POST_ONLY = Case(
    "post-only",
    "reference, not a peer: one POST of the already-encoded body (transfer + emulator time)",
    ("httpx", "orjson"),
    post_body,
    prepare=encode_body,
)
LOADERS = (
    Case(
        "project",
        PROJECT + ": `load_batch_results(scope, storage=LocalFileSystem(...))`",
        ("batchwork_prefect", "batchwork_prefect.orchestration", "prefect.filesystems"),
        load_project,
    ),
    Case(
        "raw",
        "raw orjson (floor): read the record, `orjson.loads` it, then its `result` string",
        ("orjson",),
        load_raw,
    ),
)
CASES = (
    {f"read/{case.key}": case for case in (*READERS, COLLECT)}
    | {f"submit/{case.key}": case for case in (*SUBMITTERS, POST_ONLY)}
    | {f"load/{case.key}": case for case in LOADERS}
)
