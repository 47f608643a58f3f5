"""A data-pipeline step: a JSONL or CSV file of prompts in, one result line per custom_id out.

Input rows carry a prompt field (default `prompt`) and optionally a `custom_id`; a row may
also carry any other `BatchRequest` field (`system`, `max_tokens`, ...), as a JSONL key or a
CSV column. The output is written next to the input, named after the whole input name:
`prompts.jsonl` gives `prompts.jsonl.results.jsonl` and `prompts.csv` gives
`prompts.csv.results.jsonl`, so two inputs in one folder never overwrite each other's
results. It holds one JSON object per request with `custom_id`, `status`, `text`, `error`
and `usage`, in input order.

Every problem in the input is reported at once, each as `path:line: ...` (CSV lines counted
as in the file, the header being line 1), in one `InvalidBatchError`, before anything is sent.
A CSV quote left open is one of them, never a value that swallows the rows after it.
`flows/data/prompts.jsonl` is a small example input.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
from prefect import get_run_logger
from pydantic import Field, ValidationError

from batchwork_prefect import (
    BatchRequest,
    BatchResults,
    ConfigurationError,
    IncompleteResultsError,
    InvalidBatchError,
    run_batch,
)
from batchwork_prefect.core.polling import DEFAULT_POLL_INTERVAL
from batchwork_prefect.orchestration.credentials import AnyCredentials
from batchwork_prefect.orchestration.flows import DEFAULT_MAX_ATTEMPTS, tagged_flow

JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv",)
RESULTS_SUFFIX = ".results.jsonl"

Row = tuple[int, dict[str, Any]]
"""A row of the input and the line it starts on."""


def read_requests(path: Path, prompt_field: str = "prompt") -> list[BatchRequest]:
    """The requests in a `.jsonl` or `.csv` file, in file order.

    Blank lines are skipped. Raises `ConfigurationError` when the file is missing or of
    another kind, and `InvalidBatchError` listing every bad row as `path:line: problem`.
    """
    suffix = path.suffix.lower()
    if suffix not in JSONL_SUFFIXES + CSV_SUFFIXES:
        raise ConfigurationError(
            f"{path}: not a prompts file; give a .jsonl file (one JSON object per line) "
            "or a .csv file with a header row"
        )
    if not path.is_file():
        raise ConfigurationError(
            f"{path}: no such file (resolved to {path.resolve()}); pass path= the absolute "
            "path of a .jsonl or .csv file of prompts that the worker can read"
        )
    problems: list[str] = []
    rows = (
        _jsonl_rows(path, problems)
        if suffix in JSONL_SUFFIXES
        else _csv_rows(path, prompt_field, problems)
    )
    requests: list[BatchRequest] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        request = _request(row, prompt_field, f"{path}:{line}", problems)
        if request is None:
            continue
        if request.custom_id is not None:
            if request.custom_id in first_line:
                problems.append(
                    f"{path}:{line}: custom_id {request.custom_id!r} repeats line "
                    f"{first_line[request.custom_id]}; every custom_id must be unique"
                )
                continue
            first_line[request.custom_id] = line
        requests.append(request)
    if not problems and not requests:
        problems.append(f"{path}: no prompts; add one row per prompt")
    if problems:
        raise InvalidBatchError(problems)
    return requests


def _request(
    row: dict[str, Any], prompt_field: str, where: str, problems: list[str]
) -> BatchRequest | None:
    """The row as a request, or None after adding its problems to `problems`."""
    fields = {key: value for key, value in row.items() if value not in (None, "")}
    if prompt_field not in fields:
        problems.append(f"{where}: missing or empty {prompt_field!r}")
        return None
    fields["prompt"] = fields.pop(prompt_field)
    try:
        return BatchRequest.model_validate(fields)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [prompt_field if part == "prompt" else str(part) for part in error["loc"]]
            field = f"{'.'.join(loc)}: " if loc else ""
            problems.append(f"{where}: {field}{error['msg']}")
        return None


def _jsonl_rows(path: Path, problems: list[str]) -> Iterator[Row]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                problems.append(f"{path}:{number}: not valid JSON ({exc})")
                continue
            if not isinstance(row, dict):
                problems.append(
                    f"{path}:{number}: expected a JSON object such as "
                    f'{{"prompt": "..."}}, got {type(row).__name__}'
                )
                continue
            yield number, row


def _csv_rows(path: Path, prompt_field: str, problems: list[str]) -> Iterator[Row]:
    # utf-8-sig: spreadsheets often start a CSV export with a byte-order mark.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        # strict: an unclosed quote is an error, not a field that swallows the rest of the file.
        reader = csv.reader(handle, strict=True)
        header: list[str] | None = None
        end = 0  # the line the previous record ended on
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                problems.append(f"{path}: not UTF-8 text ({exc}); save the file as UTF-8")
                return
            except csv.Error as exc:
                problems.append(f"{path}:{end + 1}: {_csv_problem(exc, end + 1, reader.line_num)}")
                if header is None:
                    return
                # The reader has consumed the bad line; go on, to report every problem.
                end = reader.line_num
                continue
            start, end = end + 1, reader.line_num
            if not record:  # a blank line
                continue
            if any("\0" in field for field in record):
                problems.append(
                    f"{path}:{start}: a NUL character; the file is binary or not UTF-8 "
                    "(UTF-16?): save it as UTF-8 text"
                )
                if header is None:
                    return
                continue
            if header is None:
                header = [name.strip() for name in record]
                if len(set(header)) != len(header) or "" in header:
                    problems.append(
                        f"{path}:{start}: the header row needs unique, non-empty column "
                        f"names, got {record}"
                    )
                    return
                if not _header_fits(f"{path}:{start}", header, prompt_field, problems):
                    return
                continue
            if len(record) != len(header):
                problems.append(
                    f"{path}:{start}: {len(record)} columns, the header has "
                    f"{len(header)} (quote values that contain commas)"
                )
                continue
            yield start, dict(zip(header, record, strict=True))


def _csv_problem(exc: csv.Error, first_line: int, last_line: int) -> str:
    """What a `csv.Error` in the record on lines `first_line`-`last_line` means, and the fix."""
    message = str(exc)
    if message == "unexpected end of data":
        return (
            "a quoted value opens here and is never closed, so it would swallow every "
            'line after it; close the quote, and double each quote inside a quoted value ("")'
        )
    if message.startswith("',' expected after"):
        left_open = (
            f", or close the quote left open (the record runs to line {last_line})"
            if last_line > first_line
            else ""
        )
        return (
            "text after a closing quote; quote the whole value and double each quote "
            'inside it ("")' + left_open
        )
    if message.startswith("field larger than field limit"):
        return f"{message}; put prompts this long in a .jsonl file"
    return f"{message}; save the file as CSV with a header row"


def _header_fits(where: str, header: list[str], prompt_field: str, problems: list[str]) -> bool:
    """Whether the CSV header has the prompt column and only `BatchRequest` fields."""
    known = (set(BatchRequest.model_fields) - {"prompt"}) | {prompt_field}
    fits = True
    if prompt_field not in header:
        problems.append(
            f"{where}: no {prompt_field!r} column in the header {header}; name the prompt "
            "column with prompt_field="
        )
        fits = False
    unknown = [name for name in header if name not in known]
    if unknown:
        problems.append(
            f"{where}: unknown column(s) {', '.join(map(repr, unknown))}; columns must be "
            f"request fields: {', '.join(sorted(known))}"
        )
        fits = False
    return fits


def output_path(path: Path) -> Path:
    """Where the results of `path` are written: beside it, `<name>.results.jsonl`.

    The whole input name is kept (`prompts.csv` gives `prompts.csv.results.jsonl`), so the
    results of `prompts.jsonl` and `prompts.csv` in one folder stay apart.
    """
    return path.with_name(path.name + RESULTS_SUFFIX)


def check_writable(target: Path) -> None:
    """Raise `ConfigurationError` unless the results can be written to `target`."""
    partial = target.with_name(target.name + ".partial")
    try:
        if target.is_dir():
            raise IsADirectoryError(21, "a folder has this name", str(target))
        with partial.open("ab"):
            pass
        partial.unlink()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot write the results to {target} ({exc.strerror or exc}): move the input "
            "to a folder the worker can write to, or remove what holds that name"
        ) from None


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
                        mode="json",
                        include={"custom_id", "status", "text", "error", "usage", "attempts"},
                    )
                )
                + b"\n"
            )
    partial.replace(target)
    return target


@tagged_flow(name="batch-prompts-file", persist_result=False)
def batch_prompts_file(
    path: str,
    model: str = "anthropic/claude-opus-4-8",
    prompt_field: str = "prompt",
    defaults: dict[str, Any] | None = None,
    credentials: AnyCredentials | str | None = None,
    idempotency_key: str | None = None,
    poll_interval: Annotated[float, Field(gt=0, le=3600)] = DEFAULT_POLL_INTERVAL,
    max_attempts: Annotated[int, Field(ge=1, le=10)] = DEFAULT_MAX_ATTEMPTS,
    allow_failed: Annotated[float | None, Field(ge=0)] = None,
) -> str:
    """Run every prompt of a JSONL or CSV file as one batch and write the results beside it.

    The file is read where the flow runs (the worker). Every bad row is reported at once,
    as `path:line: problem`, before anything is sent.

    Args:
        path: The JSONL or CSV file of prompts, absolute or relative to the directory the
            deployment was made from (e.g. flows/data/prompts.jsonl). The results go
            beside it as <file name>.results.jsonl.
        model: The model as 'provider/model', e.g. anthropic/claude-opus-4-8.
        prompt_field: The JSONL key or CSV column that holds each prompt.
        defaults: Messages API fields merged under every request, e.g. {"max_tokens": 256}.
        credentials: The provider's credentials block (e.g. AnthropicCredentials) or its
            saved name (e.g. anthropic); empty: the provider's env var (ANTHROPIC_API_KEY)
            where the flow runs.
        idempotency_key: Makes the batch durable across flow runs (e.g. the date of a
            nightly run); without it a retry of this flow run still resumes its batch.
        poll_interval: Seconds between the first polls of the batch; later polls spread out.
        max_attempts: How many times a request may be sent in all: the requests that
            failed for a passing reason (expired, overloaded) go again, up to this; 1: once.
        allow_failed: Fail the run (after the results file is written) when more requests
            than this are left failing: below 1 a fraction, from 1 up a count; empty: never.

    Returns:
        The path of the results file: one JSON object per request, in input order, with
        custom_id, status, text, error, usage and attempts.

    Examples:
        Batch a CSV whose prompts are in a `question` column:
        ```python
        from flows.prompts_file import batch_prompts_file

        written = batch_prompts_file(
            "/data/questions.csv", prompt_field="question", credentials="anthropic"
        )
        # /data/questions.csv.results.jsonl
        ```
    """
    source = Path(path).expanduser().absolute()
    requests = read_requests(source, prompt_field)
    check_writable(output_path(source))  # before the batch is paid for, not after
    # run_batch.fn runs the batch's tasks inside this flow run instead of as a subflow, whose
    # parameters (every request) would have to fit the Prefect API's 512 KiB limit.
    try:
        results = run_batch.fn(
            model=model,
            requests=requests,
            defaults=defaults,
            credentials=credentials,
            idempotency_key=idempotency_key,
            poll_interval=poll_interval,
            max_attempts=max_attempts,
            allow_failed=allow_failed,
        )
    except IncompleteResultsError as incomplete:
        # the table is still written, holes and all, before the run fails
        write_results(source, requests, incomplete.results)
        raise
    target = write_results(source, requests, results)
    get_run_logger().info("Wrote %d results to %s", len(requests), target)
    return str(target)
