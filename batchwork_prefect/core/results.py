"""Reading a job's results while checking them against what the provider reported."""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit

from batchwork_prefect.models import BatchResult, BatchSnapshot, ResultStatus
from batchwork_prefect.providers.base import BatchProvider

_SHOWN_LINE_CHARS = 200
_SUCCEEDED = ResultStatus.SUCCEEDED


class ResultsAudit:
    """Collects everything wrong with a results stream, so nothing is dropped silently."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.bad_lines: list[bytes] = []
        # A set of the id strings: checked at C speed, exactly. Streaming keeps the ids alive,
        # about 90 bytes a result (a table of 64-bit fingerprints took 16 but cost a quarter
        # of a read, probed in Python); collecting keeps them anyway, in the results.
        self.seen: set[str] = set()
        self.settled: dict[str, BatchSnapshot] = {}
        """Snapshots whose counts reading settled (see the seam), by batch id."""

    def reject(self, item: BatchResult | bytes, batch_id: str, line: int) -> None:
        """Note why `item` was not admitted: a malformed line, or a repeated custom_id.

        Either way its raw line goes to `bad_lines`: nothing read is dropped silently.
        """
        if isinstance(item, bytes):
            self.bad_lines.append(item)
            shown = item[:_SHOWN_LINE_CHARS].decode("utf-8", "replace")
            self.problems.append(f"batch {batch_id} line {line} is not a valid result: {shown!r}")
        else:
            raw = item.raw_line
            # A provider's results keep their line; one built from values is shown as JSON.
            self.bad_lines.append(raw if raw is not None else item.model_dump_json().encode())
            self.problems.append(
                f"batch {batch_id} line {line} repeats custom_id {item.custom_id!r}"
            )

    def check_counts(self, snapshot: BatchSnapshot, statuses: Mapping[ResultStatus, int]) -> None:
        """Note where one batch's results disagree with its final `request_counts`."""
        counts = snapshot.request_counts
        if counts.processing:
            return
        expected = {
            ResultStatus.SUCCEEDED: counts.succeeded,
            ResultStatus.ERRORED: counts.errored,
            ResultStatus.CANCELED: counts.canceled,
            ResultStatus.EXPIRED: counts.expired,
        }
        found = sum(statuses.values())
        if found != counts.total:
            self.problems.append(
                f"batch {snapshot.id} reported {counts.total} requests but {found} results read"
            )
        for status, number in expected.items():
            if statuses[status] != number:
                self.problems.append(
                    f"batch {snapshot.id} reported {number} {status.value} but "
                    f"{statuses[status]} read"
                )

    def check_expected(self, expected_ids: Sequence[str]) -> None:
        """Note every submitted custom_id that has no result."""
        missing = [custom_id for custom_id in expected_ids if custom_id not in self.seen]
        if missing:
            shown = ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else "")
            self.problems.append(f"{len(missing)} requests have no result: {shown}")

    def check_submitted(self, submitted: Iterable[str]) -> None:
        """Note every result whose custom_id was never submitted."""
        unknown = sorted(self.seen.difference(submitted))
        if unknown:
            shown = ", ".join(unknown[:20]) + (" ..." if len(unknown) > 20 else "")
            self.problems.append(
                f"{len(unknown)} results have a custom_id that was never submitted: {shown}"
            )


def read_results(
    provider: BatchProvider,
    snapshots: Sequence[BatchSnapshot],
    audit: ResultsAudit,
    expected_ids: Sequence[Sequence[str]] | None,
) -> Iterator[BatchResult]:
    """Every well-formed result of the ended batches; the audit records everything else."""
    seen = audit.seen
    admit = seen.add
    for position, snapshot in enumerate(snapshots):
        statuses = dict.fromkeys(ResultStatus, 0)
        succeeded = 0  # counted apart: hashing an enum member runs Python code
        submitted = expected_ids[position] if expected_ids is not None else None
        counted = snapshot
        for line, item in enumerate(provider.results(snapshot, custom_ids=submitted), start=1):
            # The hot loop of reading, run for every result.
            if type(item) is not BatchResult:
                if isinstance(item, bytes):
                    audit.reject(item, snapshot.id, line)
                elif isinstance(item, BatchSnapshot):  # its counts, settled (see the seam)
                    counted = item
                continue
            # The slots themselves, not the properties: a Python call each saved per result.
            custom_id = item._custom_id
            if custom_id in seen:
                audit.reject(item, snapshot.id, line)
                continue
            admit(custom_id)
            status = item._status
            if status is _SUCCEEDED:
                succeeded += 1
            else:
                statuses[status] += 1
            yield item
        statuses[_SUCCEEDED] = succeeded
        if counted is not snapshot:
            audit.settled[snapshot.id] = counted
        audit.check_counts(counted, statuses)
        if submitted is not None:
            audit.check_expected(submitted)
    if expected_ids is not None:
        audit.check_submitted(itertools.chain.from_iterable(expected_ids))


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many acyclic objects are built.

    Collecting 100,000 results allocates millions of dicts and strings; the collector's
    repeated full passes over that growing heap tripled `collect()`'s time. Nothing built
    here forms cycles, and the previous state is restored on exit. On exit the objects
    built are moved to the oldest generation (a freeze undone at once), so the first young
    collection after it does not walk them all (15-20% of a typed read's time); skipped
    when something is frozen already, whose freeze the undoing would end.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def results_model(provider: BatchProvider, model: str | None) -> str | None:
    """The collected results' `model`, "provider/model", named after the provider whose
    prices apply: OpenAI's wire format at Groq's origin (how `run_batch` reaches Groq) is
    Groq's. None when the model is not known."""
    if model is None:
        return None
    name = provider.name
    if name == "openai":
        from batchwork_prefect.providers.openai import GROQ_BASE_URL  # loaded: it is in use

        origin = provider.endpoint.split(" ", 1)[0]  # then the account, if any
        if urlsplit(origin).hostname == urlsplit(GROQ_BASE_URL).hostname:
            name = "groq"
    return f"{name}/{model}"
