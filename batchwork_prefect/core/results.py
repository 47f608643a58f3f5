"""Reading a job's results while checking them against what the provider reported."""

from __future__ import annotations

import gc
from array import array
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from batchwork_prefect.models import BatchResult, BatchSnapshot, ResultStatus
from batchwork_prefect.providers.base import BatchProvider

_SHOWN_LINE_CHARS = 200
_SUCCEEDED = ResultStatus.SUCCEEDED


class SeenIds:
    """The custom_ids seen so far, in 8 bytes each: an open-addressing table of their hashes.

    A set of 100,000 id strings costs about 8 MB that streaming would otherwise not need;
    this costs 16 bytes per id. Two different ids with the same 64-bit hash (odds about
    1 in 10^9 for 100,000 ids) would read as a repeat: the check fails closed, never open.
    """

    _MASK64 = (1 << 64) - 1

    def __init__(self, expected: int = 0) -> None:
        self._slots = array("Q", bytes(8 * self._size_for(expected)))
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, custom_id: str) -> bool:
        """Record `custom_id`; False if it was already there."""
        fingerprint = (hash(custom_id) & self._MASK64) or 1
        slots = self._slots
        mask = len(slots) - 1
        index = fingerprint & mask
        while True:
            held = slots[index]
            if held == 0:
                slots[index] = fingerprint
                self._count += 1
                if 2 * self._count > len(slots):
                    self._grow()
                return True
            if held == fingerprint:
                return False
            index = (index + 1) & mask

    def __contains__(self, custom_id: object) -> bool:
        fingerprint = (hash(custom_id) & self._MASK64) or 1
        slots = self._slots
        mask = len(slots) - 1
        index = fingerprint & mask
        while True:
            held = slots[index]
            if held == 0:
                return False
            if held == fingerprint:
                return True
            index = (index + 1) & mask

    def reserve(self, expected: int) -> None:
        """Make room for `expected` ids in all, so the table need not grow while reading."""
        if self._size_for(expected) > len(self._slots):
            self._rehash(self._size_for(expected))

    @staticmethod
    def _size_for(expected: int) -> int:
        return 1 << max(10, (2 * max(expected, 1)).bit_length())

    def _grow(self) -> None:
        self._rehash(2 * len(self._slots))

    def _rehash(self, size: int) -> None:
        old = self._slots
        self._slots = array("Q", bytes(8 * size))
        mask = size - 1
        for fingerprint in old:
            if fingerprint:
                index = fingerprint & mask
                while self._slots[index]:
                    index = (index + 1) & mask
                self._slots[index] = fingerprint


class ResultsAudit:
    """Collects everything wrong with a results stream, so nothing is dropped silently."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.bad_lines: list[bytes] = []
        self._seen = SeenIds()

    def expect(self, total: int) -> None:
        """Size the record of seen ids for `total` results."""
        self._seen.reserve(total)

    @property
    def seen(self) -> SeenIds:
        """The custom_ids admitted so far."""
        return self._seen

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
        missing = [custom_id for custom_id in expected_ids if custom_id not in self._seen]
        if missing:
            shown = ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else "")
            self.problems.append(f"{len(missing)} requests have no result: {shown}")


def read_results(
    provider: BatchProvider,
    snapshots: Sequence[BatchSnapshot],
    audit: ResultsAudit,
    expected_ids: Sequence[Sequence[str]] | None,
) -> Iterator[BatchResult]:
    """Every well-formed result of the ended batches; the audit records everything else."""
    audit.expect(sum(snapshot.request_counts.total for snapshot in snapshots))
    add = audit.seen.add
    for position, snapshot in enumerate(snapshots):
        statuses = dict.fromkeys(ResultStatus, 0)
        succeeded = 0  # counted apart: hashing an enum member runs Python code
        for line, item in enumerate(provider.results(snapshot), start=1):
            # The hot loop of reading, run for every result.
            if isinstance(item, bytes) or not add(item.custom_id):
                audit.reject(item, snapshot.id, line)
                continue
            status = item.status
            if status is _SUCCEEDED:
                succeeded += 1
            else:
                statuses[status] += 1
            yield item
        statuses[_SUCCEEDED] = succeeded
        audit.check_counts(snapshot, statuses)
        if expected_ids is not None:
            audit.check_expected(expected_ids[position])


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many acyclic objects are built.

    Collecting 100,000 results allocates millions of dicts and strings; the collector's
    repeated full passes over that growing heap tripled `collect()`'s time. Nothing built
    here forms cycles, and the previous state is restored on exit.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
