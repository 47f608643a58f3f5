"""Which failed requests may be sent again: failures that pass, never a request's own. Pure.

Sent again:
- `expired`: the provider's window closed before the request ran;
- `errored` with an HTTP status that says "later" (429, 408 and any 5xx, 529 among them)
  where the provider gives one (OpenAI's error lines);
- `errored` with `invalid_output`: a typed batch's answer that did not validate (not JSON,
  off its schema, refused, or cut by max_tokens), which another answer may fix;
- `errored` with a transient error type where it gives none (Anthropic's results lines):
  `overloaded_error`, `api_error`, `rate_limit_error`, `timeout_error`; OpenAI's
  `request_timeout` line error; Gemini's error `Status` names for a fault on its side
  (`INTERNAL`, `UNAVAILABLE`, `RESOURCE_EXHAUSTED`, `DEADLINE_EXCEEDED`);
- `errored` with xAI's `batch_fill_interrupted`: a request its create never added to the
  batch (the process stopped while adding them), so it never ran and cost nothing.

Never sent again: a request's own fault (`invalid_request_error`, other 4xx, a prompt too
long), `canceled` (someone asked for it; OpenAI's `batch_cancelled` reads as canceled), a
batch that failed validation (`batch_failed`), and any error type not known here: an unknown
failure is not worth paying for twice.
"""

from __future__ import annotations

from collections.abc import Iterable

from batchwork_prefect.models import BatchResult, ResultStatus
from batchwork_prefect.outputs import INVALID_OUTPUT

TRANSIENT_TYPES = frozenset(
    {
        # Anthropic's error types for a fault on its side (results lines carry no status)
        "overloaded_error",
        "api_error",
        "rate_limit_error",
        "timeout_error",
        # OpenAI's line errors: a request the batch could not run in time
        "request_timeout",
        # xAI: a request the create never added to its batch (never run, never paid)
        "batch_fill_interrupted",
        # Gemini's google.rpc codes that Google's API design answers with 500, 503, 429, 504
        "INTERNAL",
        "UNAVAILABLE",
        "RESOURCE_EXHAUSTED",
        "DEADLINE_EXCEEDED",
    }
)
TRANSIENT_STATUSES = frozenset({408, 429})
"""HTTP statuses that say "try later", besides every 5xx."""


def retry_reason(result: BatchResult) -> str | None:
    """Why `result`'s request may be sent again (e.g. `expired`, `overloaded_error`), or
    None when it must not be."""
    if result.status is ResultStatus.EXPIRED:
        return "expired"
    error = result.error
    if result.status is not ResultStatus.ERRORED or error is None:
        return None
    if error.type == INVALID_OUTPUT:  # a typed batch's answer off its type: another may fit
        return INVALID_OUTPUT
    status = error.status_code
    if status is not None:
        if status in TRANSIENT_STATUSES or 500 <= status <= 599:
            return f"{error.type} (HTTP {status})"
        return None
    return error.type if error.type in TRANSIENT_TYPES else None


def retryable(results: Iterable[BatchResult]) -> dict[str, str]:
    """`{custom_id: reason}` of the results whose requests may be sent again, in order."""
    found = {}
    for result in results:
        reason = retry_reason(result)
        if reason is not None:
            found[result.custom_id] = reason
    return found


def left_failing(results: Iterable[BatchResult]) -> dict[str, str]:
    """`{custom_id: why}` of every result that did not succeed: its error type, `expired`
    or `canceled`."""
    left = {}
    for result in results:
        if result.status is ResultStatus.SUCCEEDED:
            continue
        error = result.error
        left[result.custom_id] = (
            error.type
            if result.status is ResultStatus.ERRORED and error is not None
            else result.status.value
        )
    return left


def over_allowance(left: int, total: int, allow_failed: float | None) -> bool:
    """Whether `left` requests still failing of `total` is more than `allow_failed` lets
    through: None lets any number through; below 1 it is a fraction of `total`, from 1 up a
    count of requests."""
    if allow_failed is None:
        return False
    limit = allow_failed * total if allow_failed < 1 else allow_failed
    return left > limit
