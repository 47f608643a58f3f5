"""A data-pipeline step: a JSONL or CSV file of prompts in, one result line per custom_id out.

Input rows carry a prompt column (default `prompt`) and optionally a `custom_id` column;
JSONL rows may also carry any `BatchRequest` field (`system`, `max_tokens`, ...). The output
is written next to the input as `<name>.results.jsonl`: one JSON object per request with
`custom_id`, `status`, `text`, `error` and `usage`, in input order.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from prefect import flow, get_run_logger

from batchwork_prefect import AnthropicCredentials, BatchRequest, BatchResults, run_batch


def read_requests(path: Path, prompt_field: str = "prompt") -> list[BatchRequest]:
    """The requests in a `.jsonl` or `.csv` file; blank JSONL lines are skipped."""
    rows = _jsonl_rows(path) if path.suffix.lower() == ".jsonl" else _csv_rows(path)
    requests = []
    for number, row in enumerate(rows, start=1):
        if prompt_field not in row:
            raise ValueError(f"{path}:{number}: no {prompt_field!r} field")
        fields = {key: value for key, value in row.items() if value not in (None, "")}
        fields["prompt"] = fields.pop(prompt_field)
        requests.append(BatchRequest.model_validate(fields))
    return requests


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as lines:
        for line in lines:
            if line.strip():
                row = orjson.loads(line)
                if not isinstance(row, dict):
                    raise ValueError(f"{path}: every line must be a JSON object")
                yield row


def _csv_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def output_path(path: Path) -> Path:
    """Where the results of `path` are written: beside it, `<name>.results.jsonl`."""
    return path.with_name(f"{path.stem}.results.jsonl")


def write_results(path: Path, requests: list[BatchRequest], results: BatchResults) -> Path:
    """One line per request, in input order; returns the output path."""
    target = output_path(path)
    partial = target.with_name(target.name + ".partial")
    with partial.open("wb") as out:
        for index, request in enumerate(requests):
            custom_id = request.custom_id or f"request-{index}"
            result = results[custom_id]
            out.write(
                orjson.dumps(
                    result.model_dump(
                        mode="json", include={"custom_id", "status", "text", "error", "usage"}
                    )
                )
                + b"\n"
            )
    partial.replace(target)
    return target


@flow(name="batch-prompts-file", persist_result=False)
def batch_prompts_file(
    path: str,
    model: str = "anthropic/claude-opus-4-8",
    prompt_field: str = "prompt",
    defaults: dict[str, Any] | None = None,
    credentials: AnthropicCredentials | str | None = None,
    idempotency_key: str | None = None,
    poll_interval: float = 30.0,
) -> str:
    """Run every prompt of a JSONL/CSV file as one batch; write the results next to it."""
    source = Path(path)
    requests = read_requests(source, prompt_field)
    # run_batch.fn runs the batch's tasks inside this flow run instead of as a subflow, whose
    # parameters (every request) would have to fit the Prefect API's 512 KiB limit.
    results = run_batch.fn(
        model=model,
        requests=requests,
        defaults=defaults,
        credentials=credentials,
        idempotency_key=idempotency_key,
        poll_interval=poll_interval,
    )
    target = write_results(source, requests, results)
    get_run_logger().info("Wrote %d results to %s", len(requests), target)
    return str(target)
