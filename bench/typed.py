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
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import openai_workloads
from bench.cases import Case, Job
from bench.workloads import API_KEY, MAX_TOKENS, MODEL, custom_id, outcome, passage, prompt_seed
from bench.workloads import read_prompts as anthropic_prompts

if TYPE_CHECKING:
    from bench.children import Measured, Options

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


# the parent --------------------------------------------------------------------------------


@dataclass
class TypedResults:
    size: int
    rows: dict[str, Measured] = field(default_factory=dict)
    batches: dict[str, int] = field(default_factory=dict)
    """How many provider batches each provider's job holds."""
    results_bytes: dict[str, int] = field(default_factory=dict)
    """The JSONL the emulator serves for each provider's job (OpenAI: output + error files)."""
    answer_chars: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.note and all(row.ok for row in self.rows.values())

    def ratios(self, typed: str, plain: str, *, fresh: bool = True) -> list[float]:
        """Each repeat's typed time over the same repeat's plain time."""
        first, second = self.rows[typed], self.rows[plain]
        pairs = zip(
            first.fresh if fresh else first.seconds,
            second.fresh if fresh else second.seconds,
            strict=False,
        )
        return [one / other for one, other in pairs]


def _create(provider: str, base_url: str, size: int) -> tuple[list[str], int]:
    """Submit the typed batch with the project's `batch(..., output=)` and wait for it to end
    (setup, untimed); its batch ids and the bytes of its results (fetched once, so the
    emulator has built them)."""
    from batchwork_prefect import batch
    from bench import workloads
    from bench.typed_model import TicketExtraction

    model = f"anthropic/{MODEL}" if provider == "anthropic" else f"openai/{openai_workloads.MODEL}"
    key = API_KEY if provider == "anthropic" else openai_workloads.API_KEY
    defaults = {"max_tokens": MAX_TOKENS}
    job = batch(
        model, requests(size), defaults, api_key=key, base_url=base_url, output=TicketExtraction
    )
    with job:
        job.wait(poll_interval=POLL_INTERVAL)
        ids = list(job.ids)
    if provider == "anthropic":
        return ids, sum(workloads.warm_results(base_url, one) for one in ids)
    return ids, sum(sum(openai_workloads.warm_results(base_url, one)) for one in ids)


def run_typed(options: Options, baselines: dict[str, int] | None = None) -> TypedResults:
    """Every row in a fresh child per repeat, the order rotated each repeat."""
    from batchwork_prefect.emulator import Emulator
    from bench.children import ChildError, Measured, log, measure, spawn
    from bench.workloads import reply_usage

    size = options.size
    results = TypedResults(size, rows={case.key: Measured(case.label, size) for case in ROWS})
    results.outcomes = {kind: 0 for kind in ("succeeded", "errored", "expired")}
    for index in range(size):
        results.outcomes[outcome(index)] += 1
    results.answer_chars = answer_chars(size)
    baselines = {} if baselines is None else baselines
    with (
        Emulator(reply_content=reply_content, reply_usage=reply_usage) as anthropic,
        Emulator(reply_content=reply_content) as openai,
    ):
        urls = {"anthropic": anthropic.base_url, "openai": openai.openai_base_url}
        ids: dict[str, str] = {}
        try:
            for provider, url in urls.items():
                log(f"typed: creating a typed {provider} batch of {size} results")
                made, results.results_bytes[provider] = _create(provider, url, size)
                ids[provider], results.batches[provider] = ",".join(made), len(made)
        except Exception as exc:  # the setup failed: every row says why
            results.note = f"failed: {str(exc)[:300]}"
            for row in results.rows.values():
                row.note = results.note
            return results
        log("typed: one untimed warm-up child")
        try:  # the first child after the setup pays for cold caches; no row should
            spawn(
                {
                    "case": "typed/anthropic/plain",
                    "base_url": urls["anthropic"],
                    "batch_id": ids["anthropic"],
                },
                modules=("batchwork_prefect",),
            )
        except (ChildError, subprocess.TimeoutExpired) as exc:
            results.note = f"failed: warm-up: {exc}"
            for row in results.rows.values():
                row.note = results.note
            return results
        keys = [case.key for case in ROWS]
        for repeat in range(options.repeats):
            log(f"typed: repeat {repeat + 1}/{options.repeats}")
            turn = repeat % len(keys)
            for key in keys[turn:] + keys[:turn]:
                provider = key.split("/")[0]
                spec = {"case": f"typed/{key}", "base_url": urls[provider]}
                measure(results.rows[key], {**spec, "batch_id": ids[provider]}, baselines)
    return results
