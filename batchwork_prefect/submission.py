"""Creating one part of a batch exactly once, across crashes and lost answers.

Before the create an intent is written to the result storage; after the answer it records
the batch id. A later attempt that finds an intent without a batch id does not create again:
it lists the provider's batches made around the attempt and adopts the single one with the
part's request count, or fails with `UnreconciledSubmissionError` naming the candidates.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from prefect.filesystems import WritableFileSystem
from prefect.logging import get_run_logger

from batchwork_prefect.core import BuiltBatch
from batchwork_prefect.core.reconcile import find_lost_batch
from batchwork_prefect.errors import (
    ConfigurationError,
    ProviderError,
    SubmissionOutcomeUnknown,
    UnreconciledSubmissionError,
)
from batchwork_prefect.models import BatchSnapshot
from batchwork_prefect.persistence import (
    PartRef,
    SubmitIntent,
    intent_key,
    read_intent,
    write_intent,
)
from batchwork_prefect.providers import BatchProvider

_CREATES = threading.Lock()
"""Creates of one process go one at a time, so two parts of equal size are never in flight
together and a lost answer can be told apart from its siblings."""

_REFUSED_STATUSES = frozenset({400, 401, 403, 404, 409, 413, 422, 429, 529})
"""Answers that mean the provider did not make the batch (529: overloaded, not processed)."""


def part_ref(built: BuiltBatch, part: int) -> PartRef:
    """Which part of which batch: (digest, part, part digest); checks the index."""
    if not 0 <= part < len(built.chunks):
        raise ConfigurationError(f"part {part} out of range: the batch has {len(built.chunks)}")
    return (built.digest, part, built.chunks[part].digest)


class PartSubmission:
    """The create of one part, recorded in `storage` under `scope` (no record: None)."""

    def __init__(
        self,
        provider: BatchProvider,
        built: BuiltBatch,
        part: int,
        *,
        scope: str | None,
        storage: WritableFileSystem | None,
    ) -> None:
        self._provider = provider
        self._built = built
        self._part = part
        self._chunk = built.chunks[part_ref(built, part)[1]]
        self._scope = scope if storage is not None else None
        self._storage = storage

    def run(self) -> BatchSnapshot:
        """Create the part's provider batch, or find the one an earlier attempt created."""
        with _CREATES:
            if self._scope is None or self._storage is None:
                return self._create()
            previous = read_intent(self._storage, self._key(self._part))
            if previous is not None and previous.state == "created" and previous.batch_id:
                get_run_logger().info(
                    "Part %d was created earlier as %s; resuming it", self._part, previous.batch_id
                )
                return self._checked(self._provider.retrieve(previous.batch_id))
            if previous is not None and previous.state == "pending":
                return self._reconcile(previous)
            return self._create_recorded()

    def _create(self) -> BatchSnapshot:
        return self._provider.create(self._chunk.encoded, digest=self._chunk.digest)

    def _create_recorded(self) -> BatchSnapshot:
        intent = SubmitIntent(
            provider=self._built.provider,
            model=self._built.model,
            digest=self._built.digest,
            part=self._part,
            part_digest=self._chunk.digest,
            request_count=len(self._chunk.custom_ids),
            attempted_at=datetime.now(UTC),
            state="pending",
        )
        self._write(intent)
        try:
            snapshot = self._create()
        except SubmissionOutcomeUnknown as exc:
            get_run_logger().warning("%s Looking for the batch in the provider's list.", exc)
            return self._reconcile(intent)
        except ProviderError as exc:
            if exc.status_code in _REFUSED_STATUSES:
                self._write(intent.model_copy(update={"state": "not_created", "note": str(exc)}))
                raise
            get_run_logger().warning("%s The batch may exist; looking for it.", exc)
            return self._reconcile(intent)
        self._write(intent.model_copy(update={"state": "created", "batch_id": snapshot.id}))
        return snapshot

    def _reconcile(self, intent: SubmitIntent) -> BatchSnapshot:
        candidates = find_lost_batch(
            self._provider,
            request_count=intent.request_count,
            attempted_at=intent.attempted_at,
            claimed=self._claimed_by_siblings(),
        )
        if len(candidates) != 1:
            raise UnreconciledSubmissionError(
                request_count=intent.request_count,
                attempted_at=intent.attempted_at,
                candidates=[candidate.id for candidate in candidates],
                intent_key=self._key(self._part),
            )
        adopted = candidates[0]
        self._write(
            intent.model_copy(
                update={"state": "created", "batch_id": adopted.id, "note": "adopted from list"}
            )
        )
        get_run_logger().warning(
            "Part %d: the create's answer was lost; adopted %s (%d requests, created %s)",
            self._part,
            adopted.id,
            intent.request_count,
            adopted.created_at,
        )
        return adopted

    def _claimed_by_siblings(self) -> set[str]:
        assert self._storage is not None
        claimed: set[str] = set()
        for part in range(len(self._built.chunks)):
            if part == self._part:
                continue
            sibling = read_intent(self._storage, self._key(part))
            if sibling is not None and sibling.batch_id:
                claimed.add(sibling.batch_id)
        return claimed

    def _checked(self, snapshot: BatchSnapshot) -> BatchSnapshot:
        expected = len(self._chunk.custom_ids)
        if snapshot.request_counts.total != expected:
            raise ConfigurationError(
                f"batch {snapshot.id} holds {snapshot.request_counts.total} requests, but part "
                f"{self._part} has {expected}: it is not this part's batch (see "
                f"{self._key(self._part)})"
            )
        return snapshot

    def _key(self, part: int) -> str:
        assert self._scope is not None
        return intent_key(self._scope, part_ref(self._built, part))

    def _write(self, intent: SubmitIntent) -> None:
        assert self._storage is not None
        write_intent(self._storage, self._key(self._part), intent)
