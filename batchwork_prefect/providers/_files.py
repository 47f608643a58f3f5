"""Reading an ended batch whose results are files (OpenAI's, Mistral's, Together's): each
file's lines parsed in turn, then a result for each submitted request no file holds, by how
the batch ended, every outcome tallied for settling the counts."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from batchwork_prefect.models import (
    BatchProblem,
    BatchResult,
    BatchSnapshot,
    BatchStatus,
    ResultError,
    ResultStatus,
    trusted,
)

FAILED_TYPE = "batch_failed"
"""The error type of a request a failed batch never ran."""

_SUCCEEDED = ResultStatus.SUCCEEDED

UNRUN_STATUSES = frozenset({BatchStatus.EXPIRED, BatchStatus.CANCELLED, BatchStatus.FAILED})
"""How a batch ends that can leave submitted requests in no file."""


def file_results(
    files: Iterable[Iterable[list[bytes]]],
    parse: Callable[[bytes, str | None, Callable[[str], str]], BatchResult | None],
    batch_id: str,
    scrub: Callable[[str], str],
    ended: BatchSnapshot,
    submitted: Callable[[], Iterable[str]],
    tally: dict[ResultStatus, int],
) -> Iterator[BatchResult | bytes]:
    """Each file's results in turn (raw bytes for a line `parse` refuses), then, where the
    batch ended `UNRUN_STATUSES`, a result for each `submitted()` request no file held
    (`unrun_results`); `tally` counts each result's status. A line is parsed with
    `parse(line, batch_id, scrub)`, called directly (no wrapper's frame per line); each of
    `files` gives its lines a list per chunk, as `resumed_lines` does (no generator step per
    line)."""
    fills = ended.status in UNRUN_STATUSES
    seen: set[str] = set()
    succeeded = 0  # counted apart: hashing an enum member runs Python code
    for batches in files:
        for lines in batches:
            for line in lines:
                item = parse(line, batch_id, scrub)
                if item is None:
                    yield line
                    continue
                if fills:
                    seen.add(item._custom_id)
                status = item._status
                if status is _SUCCEEDED:
                    succeeded += 1
                else:
                    tally[status] += 1
                yield item
    tally[_SUCCEEDED] += succeeded
    if fills:
        for item in unrun_results(ended.status, submitted(), seen, ended.id, ended.errors):
            tally[item.status] += 1
            yield item


def unrun_results(
    status: BatchStatus,
    submitted: Iterable[str],
    seen: set[str],
    batch_id: str,
    problems: Sequence[BatchProblem] = (),
) -> Iterator[BatchResult]:
    """A result for each submitted request neither file holds, by how the batch ended.

    `expired` in an expired batch, `canceled` in a cancelled one; in a failed batch every
    one is `errored`: with the problem that names its input line (line n is the n-th
    submitted request), else with `batch_failed` and the batch's problems. Nothing for a
    batch that completed: a request missing there stays missing (the audit reports it).
    """
    if status is BatchStatus.EXPIRED:
        outcome = ResultStatus.EXPIRED
    elif status is BatchStatus.CANCELLED:
        outcome = ResultStatus.CANCELED
    elif status is BatchStatus.FAILED:
        outcome = ResultStatus.ERRORED
    else:
        return
    by_line: dict[int, BatchProblem] = {}
    for problem in problems:
        if problem.line is not None:
            by_line.setdefault(problem.line, problem)
    general: ResultError | None = None
    if outcome is ResultStatus.ERRORED:
        reasons = "; ".join(describe_problem(problem) for problem in problems[:5])
        general = _problem_error(
            FAILED_TYPE,
            f"the batch failed before this request ran: {reasons or 'no reason given'}",
            None,
        )
    for line, custom_id in enumerate(submitted, start=1):
        if custom_id in seen:
            continue
        seen.add(custom_id)
        error = None
        if general is not None:
            named = by_line.get(line)
            error = general if named is None else _problem_error(named.code, named.message, None)
        yield BatchResult.decoded(custom_id, outcome, batch_id, None, None, error=error)


def describe_problem(problem: BatchProblem) -> str:
    """`line 3: missing_required_parameter: Missing ... (body.messages)`."""
    where = f"line {problem.line}: " if problem.line is not None else ""
    param = f" ({problem.param})" if problem.param else ""
    return f"{where}{problem.code}: {problem.message}{param}"


def _problem_error(kind: str, message: str, request_id: str | None) -> ResultError:
    return trusted(
        ResultError,
        {"type": kind, "message": message, "request_id": request_id, "status_code": None},
    )
