"""Creating one part of a batch exactly once, across crashes and lost answers.

The create of a part under its claim, and how a lost create is reconciled. The intent
records themselves, and settling one by hand, are in `intents`.

Before the create an intent is written to the result storage; after the answer it records
the batch id. A later attempt that finds an intent without a batch id does not create again:
it lists the provider's batches made around the attempt and adopts the single one with the
part's request count, or fails with `UnreconciledSubmissionError` naming the candidates.
Where the provider records the part's digest with the batch (`records_digest`: OpenAI),
the batch is matched by that digest alone, and a failed create that left no batch with
it (an upload that failed before the create) is recorded as not created. A create that
never reached the provider (`TransportError`) made no batch either.

Two flow runs with one idempotency key may reach a part at the same moment (a schedule
overlapping a manual run, several workers). Reading the intent and then writing it is not
atomic, so first each takes the part's *claim* (`claims`): a file created only if absent,
held by a lease its holder renews while it lives. Exactly one holds it; the others wait
until the intent names the batch, then resume it. A claim is free once released, once its
lease lapsed (its holder died, whoever or whatever killed it), once its holder's process is
seen gone on this machine, or once its holder's flow run has ended or is this very run (an
earlier attempt of it, which is dead). A free claim is not rewritten: the next generation
(`claim-<g+1>.json`) is created exclusively, so one taker wins.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from prefect.filesystems import WritableFileSystem

from batchwork_prefect._http.retry import REFUSED_CREATE_STATUSES
from batchwork_prefect.core import BuiltBatch
from batchwork_prefect.core.reconcile import find_lost_batch
from batchwork_prefect.errors import (
    ClaimLostError,
    ConfigurationError,
    ProviderError,
    StoredRecordError,
    SubmissionOutcomeUnknown,
    TransportError,
    UnreconciledSubmissionError,
)
from batchwork_prefect.models import BatchSnapshot
from batchwork_prefect.orchestration.claims import (
    Lease,
    RunEnded,
    claim_lease,
    is_free,
    lease_clock,
    read_claim,
)
from batchwork_prefect.orchestration.intents import (
    IntentState,
    SubmitIntent,
    checked_intent,
    read_intent,
    write_intent,
)
from batchwork_prefect.orchestration.persistence import (
    claim_key,
    create_exclusive,
    intent_key,
    part_ref,
)
from batchwork_prefect.orchestration.reporting import batch_logger
from batchwork_prefect.providers import BatchProvider

_CREATES = threading.Lock()
"""Creates of one process go one at a time, so two parts of equal size are never in flight
together and a lost answer can be told apart from its siblings."""

CLAIM_POLL_SECONDS = 1.0


class PartSubmission:
    """The create of one part, recorded in `storage` under `scope` (no record: None).

    `flow_run_id` names the holder of the part's claim: the outermost flow run, whose
    earlier attempts are dead once it runs again.
    """

    def __init__(
        self,
        provider: BatchProvider,
        built: BuiltBatch,
        part: int,
        *,
        scope: str | None,
        storage: WritableFileSystem | None,
        flow_run_id: str | None = None,
        run_ended: RunEnded | None = None,
        lease: timedelta | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._provider = provider
        self._built = built
        self._part = part
        self._part_of_batch = built.parts[part_ref(built, part)[1]]
        self._scope = scope if storage is not None else None
        self._storage = storage
        self._flow_run_id = flow_run_id
        self._run_ended = run_ended
        self._lease = lease if lease is not None else claim_lease()
        self._sleep = sleep  # between looks at a claim another process holds: may raise

    def run(self) -> BatchSnapshot:
        """Create the part's provider batch, or find the one an earlier attempt created."""
        if self._scope is None or self._storage is None:
            with _CREATES:
                return self._create()
        intent = checked_intent(
            self._storage, self._scope, self._built, self._part, self._provider.endpoint
        )
        if intent is not None and intent.state is IntentState.CREATED:
            return self._resume(intent)
        lease = self._acquire()  # may wait on another process: not under _CREATES
        try:
            with _CREATES:
                # One read, after the claim was created (a holder that lost it sees our
                # claim), and one decision on it: two reads could straddle the holder's
                # pending -> created write and create the part again.
                previous = read_intent(self._storage, self._key(self._part))
                if previous is not None and previous.state is IntentState.CREATED:
                    return self._resume(previous)
                if previous is not None and previous.state is IntentState.PENDING:
                    return self._reconcile(previous)
                return self._create_recorded(lease)
        finally:
            if lease is not None:
                lease.release()

    def _resume(self, intent: SubmitIntent) -> BatchSnapshot:
        """The batch a created intent records, checked to be this part's."""
        if not intent.batch_id:
            raise StoredRecordError(
                f"the submit intent at {self._key(self._part)!r} says created but names no "
                "batch; settle it: `batchwork-prefect resolve-submission "
                f"{self._key(self._part)} --adopt <batch id>` or `--resubmit`",
                key=self._key(self._part),
            )
        batch_logger().info(
            "Part %d was created earlier as %s; resuming it", self._part, intent.batch_id
        )
        return self._checked(self._provider.retrieve(intent.batch_id))

    def _recorded_batch(self) -> str | None:
        """The batch id the part's intent records as created, if any."""
        assert self._storage is not None
        intent = read_intent(self._storage, self._key(self._part))
        if intent is None or intent.state is not IntentState.CREATED or not intent.batch_id:
            return None
        return intent.batch_id

    def _acquire(self) -> Lease | None:
        """Hold the part's claim, or None where storage cannot claim or the part is done."""
        assert self._storage is not None and self._scope is not None
        generation = 0
        waited_on: str | None = None
        while True:
            key = self._claim_key(generation)
            current = read_claim(self._storage, key)
            if current is None:
                lease = Lease(
                    self._storage,
                    key,
                    self._claim_key(generation + 1),
                    flow_run_id=self._flow_run_id,
                    lease=self._lease,
                    what=f"part {self._part}",
                )
                written_at = lease_clock()
                taken = create_exclusive(self._storage, key, lease.claim())
                if taken is None:
                    batch_logger().warning(
                        "The result storage offers no atomic create-if-absent: two runs "
                        "with the same idempotency_key at one moment could both create part "
                        "%d. Use a local folder or S3 (s3fs) storage to rule that out.",
                        self._part,
                    )
                    return None
                if taken:
                    lease.start(written_at)
                    return lease
                continue  # another process took this generation first: read it
            free = is_free(
                current,
                now=datetime.now(UTC),
                own_run=self._flow_run_id,
                run_ended=self._run_ended,
            )
            if free:
                generation += 1
                continue
            if waited_on != current.holder:
                waited_on = current.holder
                batch_logger().info(
                    "Part %d is being created by flow run %s (its claim is held until %s "
                    "unless renewed); waiting for its batch id",
                    self._part,
                    current.flow_run_id,
                    current.expires_at.isoformat(timespec="seconds"),
                )
            if self._recorded_batch() is not None:
                return None  # the holder is done: the caller resumes its batch
            self._sleep(CLAIM_POLL_SECONDS)

    def _claim_key(self, generation: int) -> str:
        assert self._scope is not None
        return claim_key(self._scope, part_ref(self._built, self._part), generation)

    def _create(self) -> BatchSnapshot:
        return self._provider.create(self._part_of_batch.encoded, digest=self._part_of_batch.digest)

    def _create_recorded(self, lease: Lease | None) -> BatchSnapshot:
        if lease is not None:
            lease.check()
        intent = SubmitIntent(
            endpoint=self._provider.endpoint,
            provider=self._built.provider,
            model=self._built.model,
            digest=self._built.digest,
            part=self._part,
            part_digest=self._part_of_batch.digest,
            request_count=len(self._part_of_batch.custom_ids),
            attempted_at=datetime.now(UTC),
            state=IntentState.PENDING,
        )
        self._write(intent)
        if lease is not None:
            try:
                lease.check()  # after the intent: a taker from now on finds it and reconciles
            except ClaimLostError as lost:
                if not lost.taken_over:  # no taker read the intent yet: say nothing was sent
                    note = f"not sent: {lost.why}"
                    with contextlib.suppress(Exception):
                        self._write(
                            intent.model_copy(
                                update={"state": IntentState.NOT_CREATED, "note": note}
                            )
                        )
                raise
        try:
            snapshot = self._create()
        except SubmissionOutcomeUnknown as exc:
            batch_logger().warning("%s Looking for the batch in the provider's list.", exc)
            return self._reconcile(intent)
        except TransportError as exc:
            # Never sent (a create that may have been sent raises SubmissionOutcomeUnknown),
            # or failed before the create itself (an upload): no batch was made.
            self._write(
                intent.model_copy(update={"state": IntentState.NOT_CREATED, "note": str(exc)})
            )
            raise
        except ProviderError as exc:
            if exc.status_code in REFUSED_CREATE_STATUSES:
                self._write(
                    intent.model_copy(update={"state": IntentState.NOT_CREATED, "note": str(exc)})
                )
                raise
            batch_logger().warning("%s The batch may exist; looking for it.", exc)
            if self._provider.records_digest:
                # The digest is recorded with the batch by the create itself: no batch that
                # carries it means none was made (an upload before the create failed, say).
                candidates = self._candidates(intent)
                if not candidates:
                    self._write(
                        intent.model_copy(
                            update={"state": IntentState.NOT_CREATED, "note": str(exc)}
                        )
                    )
                    raise
                return self._adopt(intent, candidates)
            return self._reconcile(intent)
        self._write(
            intent.model_copy(update={"state": IntentState.CREATED, "batch_id": snapshot.id})
        )
        return snapshot

    def _reconcile(self, intent: SubmitIntent) -> BatchSnapshot:
        return self._adopt(intent, self._candidates(intent))

    def _candidates(self, intent: SubmitIntent) -> list[BatchSnapshot]:
        """The provider's batches that may be this part's: by its digest where the provider
        records it (exactly), else by request count and creation time."""
        return find_lost_batch(
            self._provider,
            request_count=intent.request_count,
            attempted_at=intent.attempted_at,
            claimed=self._claimed_by_siblings(),
            digest=intent.part_digest,
        )

    def _adopt(self, intent: SubmitIntent, candidates: list[BatchSnapshot]) -> BatchSnapshot:
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
                update={
                    "state": IntentState.CREATED,
                    "batch_id": adopted.id,
                    "note": "adopted from list",
                }
            )
        )
        batch_logger().warning(
            "Part %d: the create's answer was lost; adopted %s (%d requests, created %s)",
            self._part,
            adopted.id,
            intent.request_count,
            adopted.created_at,
        )
        return adopted

    def _claimed_by_siblings(self) -> set[str]:
        """Batches this part's lost create cannot be: its siblings' and earlier rounds'."""
        assert self._storage is not None
        claimed: set[str] = set(self._built.earlier_batches)
        for part in range(len(self._built.parts)):
            if part == self._part:
                continue
            sibling = read_intent(self._storage, self._key(part))
            if sibling is not None and sibling.batch_id:
                claimed.add(sibling.batch_id)
        return claimed

    def _checked(self, snapshot: BatchSnapshot) -> BatchSnapshot:
        expected = len(self._part_of_batch.custom_ids)
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
