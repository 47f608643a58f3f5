"""Typed results: reading a typed batch's answers into `result.parsed` against a plain read.

The same ended batch is read twice as users read it, each in a fresh child per repeat
(`python -m bench.child`): plainly (`BatchJob.attach(...)` with no output type, then
`collect()`, each result's `.text` and `.usage`) and typed (the same with `output=`, then
each result's `.parsed`, a field of it and `.usage`). The batch asked for the structured
output of `bench.typed_model.TicketExtraction`, as `batch(..., output=)` sends it; the
emulator answers each request with a realistic extraction of its ticket (`answer`):
summaries of 160-320 characters, 0-3 order ids, 1-4 action items, enums for the category,
priority and owners. About 5% end errored and 2% expired, as in the read section.

Rows: Anthropic with the pydantic model, Anthropic with its JSON schema as a dict (loaded
from `bench/typed_schema.json`), OpenAI with the pydantic model (the same count of results,
which takes two OpenAI batches of 50,000 above that size: one job over both, as `batch()`
splits it), and for reference the Anthropic plain read with the user's own
`model_validate_json` of each text. Each is paired with the plain read of the same batch in
the same repeat; the order of the six children rotates every repeat.
"""

from __future__ import annotations

import random
import statistics
from pathlib import Path
from typing import Any

from bench import openai_workloads
from bench.cases import Case, Job
from bench.workloads import API_KEY, custom_id, outcome, passage, prompt_seed
from bench.workloads import read_prompts as anthropic_prompts

SCHEMA_PATH = Path(__file__).resolve().parent / "typed_schema.json"
CATEGORIES = ("billing", "shipping", "product", "account", "other")
PRIORITIES = ("low", "medium", "high", "urgent")
TEAMS = ("support", "billing", "logistics", "engineering")
POLL_INTERVAL = 0.05
PAIRS = (
    ("anthropic/model", "anthropic/plain"),
    ("anthropic/schema", "anthropic/plain"),
    ("openai/model", "openai/plain"),
)
"""(typed row, the plain row it is paired with): the goals."""
REFERENCES = (("anthropic/by-hand", "anthropic/plain"),)
"""Rows shown with their ratio to the plain read, without a goal."""


# the workload ------------------------------------------------------------------------------


def answer(params: dict[str, Any]) -> dict[str, Any]:
    """The extraction a model gives for the request `params` (derived from its prompt)."""
    seed = prompt_seed(params)
    rng = random.Random(seed)
    orders = [f"ORD-{rng.randrange(1_000_000):06d}" for _ in range(rng.randint(0, 3))]
    items = [
        {
            "description": passage(seed * 31 + index, rng.randint(50, 120)),
            "owner": rng.choice(TEAMS),
            "due_in_days": rng.choice((None, 1, 2, 3, 7, 14)),
        }
        for index in range(rng.randint(1, 4))
    ]
    return {
        "ticket_id": f"TCK-{seed % 10_000_000:07d}",
        "summary": passage(seed, rng.randint(160, 320)),
        "category": rng.choice(CATEGORIES),
        "priority": rng.choice(PRIORITIES),
        "sentiment": round(rng.uniform(-1.0, 1.0), 2),
        "order_ids": orders,
        "refund_requested": rng.random() < 0.3,
        "action_items": items,
    }


def answer_text(params: dict[str, Any]) -> str:
    """The answer as the model's text: compact JSON, as structured outputs return it."""
    import orjson

    return orjson.dumps(answer(params)).decode()


def reply_content(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The emulator's `reply_content`: one text block holding the answer (OpenAI's emulator
    makes it the message's `content`)."""
    return [{"type": "text", "text": answer_text(params)}]


def requests(size: int) -> list[dict[str, str]]:
    """The batch's requests: the read section's prompts, with its outcome markers."""
    return [{"custom_id": custom_id(i), "prompt": p} for i, p in enumerate(anthropic_prompts(size))]


def answer_chars(size: int) -> float:
    """The mean length of the succeeded answers' text."""
    lengths = [
        len(answer_text({"messages": [{"role": "user", "content": prompt}]}))
        for index, prompt in enumerate(anthropic_prompts(size))
        if outcome(index) == "succeeded"
    ]
    return statistics.fmean(lengths) if lengths else 0.0


# the cases (run in a child) ----------------------------------------------------------------

_SEEN: list[object] = [None]


def _consume(status: object, value: object, usage: object) -> None:
    """Hold on to the last fields read, so reading them cannot be skipped."""
    _SEEN[0] = (status, value, usage)


def _open(job: Job, provider: str, output: Any) -> Any:
    """The collected results of the job's batches (comma-separated ids), read with `output`."""
    from batchwork_prefect import BatchJob
    from batchwork_prefect.providers import get_provider

    key = API_KEY if provider == "anthropic" else openai_workloads.API_KEY
    connected = get_provider(provider, api_key=key, base_url=job.base_url)
    with BatchJob.attach(connected, job.batch_id.split(","), output=output) as batch:
        return batch.collect()


def _check(status: object, error: Any) -> None:
    """Fail the child on an answer that did not validate: the rows read valid answers."""
    if error is not None and error.type == "invalid_output":
        raise RuntimeError(f"{status}: an answer did not validate: {error.message}")


def _read_plain(job: Job, provider: str) -> int:
    from batchwork_prefect import ResultStatus

    succeeded = ResultStatus.SUCCEEDED
    results = _open(job, provider, None)
    for result in results.values():
        status = result.status
        if status is succeeded:
            _consume(status, result.text, result.usage)
        else:
            error = result.error
            _check(status, error)
            _consume(status, error, None)
    return len(results)


def _read_model(job: Job, provider: str) -> int:
    from batchwork_prefect import ResultStatus
    from bench.typed_model import TicketExtraction

    succeeded = ResultStatus.SUCCEEDED
    results = _open(job, provider, TicketExtraction)
    for result in results.values():
        status = result.status
        if status is succeeded:
            parsed = result.parsed
            _consume(status, (parsed, parsed.category), result.usage)
        else:
            error = result.error
            _check(status, error)
            _consume(status, error, None)
    return len(results)


def _read_by_hand(job: Job, provider: str) -> int:
    """The plain read, then the user's own `model_validate_json` of each succeeded text in
    their loop (the collector running, as in any loop of theirs)."""
    from batchwork_prefect import ResultStatus
    from bench.typed_model import TicketExtraction

    succeeded = ResultStatus.SUCCEEDED
    results = _open(job, provider, None)
    parsed_all = []
    for result in results.values():
        status = result.status
        if status is succeeded:
            parsed = TicketExtraction.model_validate_json(result.text)
            parsed_all.append(parsed)
            _consume(status, (parsed, parsed.category), result.usage)
        else:
            error = result.error
            _check(status, error)
            _consume(status, error, None)
    return len(results)


def _read_schema(job: Job, provider: str) -> int:
    import orjson

    from batchwork_prefect import ResultStatus

    with open(SCHEMA_PATH, "rb") as file:
        schema = orjson.loads(file.read())
    succeeded = ResultStatus.SUCCEEDED
    results = _open(job, provider, schema)
    for result in results.values():
        status = result.status
        if status is succeeded:
            parsed = result.parsed
            _consume(status, (parsed, parsed["category"]), result.usage)
        else:
            error = result.error
            _check(status, error)
            _consume(status, error, None)
    return len(results)


ROWS = (
    Case(
        "anthropic/plain",
        "Anthropic, plain: `.text`",
        ("batchwork_prefect",),
        lambda job: _read_plain(job, "anthropic"),
    ),
    Case(
        "anthropic/model",
        "Anthropic, typed, pydantic model: `.parsed`, `.parsed.category`",
        ("batchwork_prefect",),
        lambda job: _read_model(job, "anthropic"),
    ),
    Case(
        "anthropic/schema",
        'Anthropic, typed, JSON schema dict: `.parsed`, `.parsed["category"]`',
        ("batchwork_prefect",),
        lambda job: _read_schema(job, "anthropic"),
    ),
    Case(
        "anthropic/by-hand",
        "reference: Anthropic, plain + the user's own "
        "`TicketExtraction.model_validate_json(result.text)`",
        ("batchwork_prefect",),
        lambda job: _read_by_hand(job, "anthropic"),
    ),
    Case(
        "openai/plain",
        "OpenAI, plain: `.text`",
        ("batchwork_prefect",),
        lambda job: _read_plain(job, "openai"),
    ),
    Case(
        "openai/model",
        "OpenAI, typed, pydantic model: `.parsed`, `.parsed.category`",
        ("batchwork_prefect",),
        lambda job: _read_model(job, "openai"),
    ),
)
CASES = {f"typed/{case.key}": case for case in ROWS}
