"""The exceptions batchwork-prefect raises. Every one derives from `BatchworkError`.

Messages name the request (method and URL) and the provider's status, error type and
request id where there is one; they never contain an API key or a request body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from batchwork_prefect.models import BatchResults, BatchSnapshot


class BatchworkError(Exception):
    """Base class of every error raised by batchwork-prefect."""


class ConfigurationError(BatchworkError, ValueError):
    """A setting is missing or unusable: no API key, a bad base URL, an unknown provider."""


class InvalidBatchError(BatchworkError, ValueError):
    """The requests cannot form a batch; raised before anything is sent.

    `problems` lists every problem found, one sentence each.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = "; ".join(self.problems[:10])
        more = f" (and {len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
        super().__init__(f"invalid batch: {shown}{more}")


class UnsafeURLError(BatchworkError):
    """A URL was refused: a batch id unfit for a path, or a URL off the configured API origin."""


class TransportError(BatchworkError):
    """The provider could not be reached, or the connection failed, after all retries."""

    def __init__(self, message: str, *, method: str, url: str) -> None:
        self.method = method
        self.url = url
        super().__init__(f"{message} ({method} {url})")


class ProviderError(BatchworkError):
    """The provider answered with an error status.

    Carries the HTTP `status_code`, the provider's `error_type`, its `request_id` and the
    `method` and `url` of the request.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        method: str,
        url: str,
        error_type: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.error_type = error_type
        self.request_id = request_id
        self.method = method
        self.url = url
        detail = f"HTTP {status_code}"
        if error_type:
            detail += f" {error_type}"
        if request_id:
            detail += f", request-id {request_id}"
        super().__init__(f"{message} ({detail}; {method} {url})")


class ProtocolError(BatchworkError):
    """The provider sent something this client does not understand; it fails closed."""


class UnknownStatusError(ProtocolError):
    """The provider reported a batch status this client does not know."""

    def __init__(self, provider: str, status: str) -> None:
        self.provider = provider
        self.status = status
        super().__init__(
            f"{provider} reported unknown batch status {status!r}; refusing to guess whether "
            "the batch is still running"
        )


class SubmissionOutcomeUnknown(BatchworkError):
    """The create request was sent but its answer was lost: the batch may or may not exist.

    Nothing is resubmitted automatically. Reconcile by listing the provider's batches created
    around `attempted_at` with `request_count` requests:
    `batchwork_prefect.core.reconcile.find_lost_batch` does that (the `run_batch` flow does
    it by itself).
    """

    def __init__(
        self,
        *,
        provider: str,
        request_count: int,
        digest: str,
        attempted_at: datetime,
        cause: str,
        batch_id: str | None = None,
    ) -> None:
        self.provider = provider
        self.batch_id = batch_id
        self.request_count = request_count
        self.digest = digest
        self.attempted_at = attempted_at
        super().__init__(
            f"submission outcome unknown: the {provider} create request for {request_count} "
            f"requests (digest {digest[:16]}) was sent at {attempted_at.isoformat()} but no "
            f"usable answer arrived ({cause}). Do not resubmit blindly: list the provider's "
            "batches created since then with that request count to find it"
            + (f" (the answer named {batch_id})." if batch_id else ".")
        )


class PartialSubmissionError(BatchworkError):
    """A job split into several provider batches failed part-way through submitting.

    `batch_ids` were created (and are running or billable); the parts from `failed_part`
    on were not submitted. The cause is chained.
    """

    def __init__(self, *, batch_ids: Sequence[str], parts_total: int, failed_part: int) -> None:
        self.batch_ids = list(batch_ids)
        self.parts_total = parts_total
        self.failed_part = failed_part
        super().__init__(
            f"submitted {len(self.batch_ids)} of {parts_total} batches "
            f"({', '.join(self.batch_ids)}) before part {failed_part} failed; "
            "the created batches exist: get_batch() them or cancel them"
        )


class BatchTimeoutError(BatchworkError, TimeoutError):
    """A wait ran out of time; `snapshot` is the last state seen.

    `wait()` leaves the batch running; `cancelled` is True where the caller cancelled it.
    """

    def __init__(self, snapshot: BatchSnapshot, timeout: float, *, cancelled: bool = False) -> None:
        self.snapshot = snapshot
        self.timeout = timeout
        self.cancelled = cancelled
        outcome = (
            "its cancellation was requested"
            if cancelled
            else "it was left running: cancel it or wait again"
        )
        super().__init__(
            f"batch {snapshot.id} still {snapshot.status.value} after {timeout:g}s "
            f"({snapshot.request_counts.finished}/{snapshot.request_counts.total} finished); "
            + outcome
        )


class UnreconciledSubmissionError(BatchworkError):
    """A create's answer was lost, and the provider's batches hold none or several that match.

    Nothing was resubmitted. `candidates` are the ids of the matching batches (oldest first);
    the message says how to settle the record at `intent_key` before rerunning.
    """

    def __init__(
        self,
        *,
        request_count: int,
        attempted_at: datetime,
        candidates: Sequence[str],
        intent_key: str,
    ) -> None:
        self.request_count = request_count
        self.attempted_at = attempted_at
        self.candidates = list(candidates)
        self.intent_key = intent_key
        found = (
            f"{len(self.candidates)} match ({', '.join(self.candidates)})"
            if self.candidates
            else "none matches"
        )
        super().__init__(
            f"a create of {request_count} requests was attempted at {attempted_at.isoformat()} "
            f"and its answer was never recorded; of the provider's batches created around then "
            f"with {request_count} requests, {found}. Nothing was resubmitted. Settle it, then "
            f"rerun: `batchwork-prefect resolve-submission {intent_key} --adopt <batch id>` if "
            "one of them is this batch, or `--resubmit` if none is and the attempt is more "
            "than 15 minutes old, so a create still in flight has had its time (add "
            "`--storage <type/name>` when the run used a result_storage block)."
        )


class ResultsNotReadyError(BatchworkError):
    """Results were asked for before the batch ended."""


class ResultsIntegrityError(BatchworkError):
    """The results disagree with the batch: malformed lines, missing or duplicate ids, counts.

    Nothing is dropped: `partial` holds every result that parsed, `bad_lines` the raw
    lines that did not, and `problems` says what is wrong.
    """

    def __init__(
        self,
        problems: Sequence[str],
        *,
        partial: BatchResults | None = None,
        bad_lines: Sequence[bytes] = (),
    ) -> None:
        self.problems = list(problems)
        self.partial = partial
        self.bad_lines = list(bad_lines)
        shown = "; ".join(self.problems[:10])
        more = f" (and {len(self.problems) - 10} more)" if len(self.problems) > 10 else ""
        super().__init__(f"results failed integrity checks: {shown}{more}")


class StoredRecordError(BatchworkError):
    """A record in the result storage is damaged or was edited: it is not trusted.

    `key` names the record; the message says how to recover (rerun, or settle the record).
    """

    def __init__(self, message: str, *, key: str) -> None:
        self.key = key
        super().__init__(message)


class MaybeSentError(TransportError):
    """The request may have reached the server, but no answer came back."""


class WebhookVerificationError(BatchworkError):
    """A received webhook failed verification; the message says why. Reject the request."""


class WebhookDeliveryError(BatchworkError):
    """A webhook could not be delivered.

    Carries the `webhook_id`, the `url` (without query or credentials), the number of
    `attempts` made and the last HTTP `status_code` (None if no answer arrived).
    """

    def __init__(
        self,
        message: str,
        *,
        webhook_id: str,
        url: str,
        attempts: int,
        status_code: int | None = None,
    ) -> None:
        self.webhook_id = webhook_id
        self.url = url
        self.attempts = attempts
        self.status_code = status_code
        super().__init__(f"{message} (webhook-id {webhook_id}; POST {url}; {attempts} attempt(s))")


class CrashLoopError(BatchworkError):
    """A flow run was resumed automatically after crashing too many times."""


class WaitStopped(BatchworkError):
    """The flow run stops its waits: cancelled (the batches are cancelled too) or failed."""

    def __init__(self, message: str, *, cancel_batches: bool) -> None:
        super().__init__(message)
        self.cancel_batches = cancel_batches


class ClaimLostError(BatchworkError):
    """This process no longer holds the claim on a part, so it created nothing.

    Its lease was not renewed in time (the result storage was unreachable, or the process
    was paused), or another process took the claim over. A rerun resumes the part.
    """

    def __init__(self, what: str, why: str, *, taken_over: bool) -> None:
        super().__init__(
            f"the claim on {what} was lost: {why}; nothing was created by this run. Rerun it "
            "(or press Retry): the rerun resumes whatever the part's holder created"
        )
        self.what = what
        self.why = why
        self.taken_over = taken_over


class IncompleteResultsError(BatchworkError):
    """More requests are left failing after the last retry round than `allow_failed` lets
    through. The results are persisted all the same: nothing is lost, and a Retry of the run
    resumes from storage without paying again.
    """

    def __init__(
        self,
        *,
        left: Mapping[str, str],
        results: BatchResults,
        attempts: int,
        allow_failed: float,
    ) -> None:
        total = len(results)
        reasons: dict[str, int] = {}
        for why in left.values():
            reasons[why] = reasons.get(why, 0) + 1
        named = ", ".join(f"{why}: {n}" for why, n in sorted(reasons.items()))
        super().__init__(
            f"{len(left)} of {total} requests are left failing after {attempts} attempt(s) "
            f"({named}), more than allow_failed={allow_failed:g} lets through. The results are "
            "persisted: load_batch_results() reads them. To let it pass, press Retry or rerun "
            "with the same idempotency_key and a higher allow_failed (or max_attempts): the "
            "rounds already read come from storage and are not paid again"
        )
        self.left = dict(left)
        """`{custom_id: why}` of each request left failing."""
        self.results = results
        """Every result, one per request (also persisted: `load_batch_results`)."""
