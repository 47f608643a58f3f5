"""Retry rounds: the requests that failed for passing reasons are sent again, durably.

Round 1 is the batch as built. After it is read, the requests whose results failed for a
passing reason (`core.retries.retryable`) are sent again as round 2: the same requests as
first encoded (`core.build.subset`), whose digests carry the attempt, so each round has its
own parts, intents, claims and records under the batch's scope. Which requests go again is
a pure function of the rounds before, read from their records, and it is recorded before
the round's first create (`round-<k>.json` beside the batch's parts): a rerun (a crash, a
UI Retry, a resumed release) follows the recorded rounds, even where a changed policy or
`max_attempts` would now choose otherwise, so a round paid for is always read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from prefect import unmapped
from prefect.context import FlowRunContext, TaskRunContext
from prefect.exceptions import TerminationSignal
from prefect.filesystems import WritableFileSystem
from prefect.utilities.annotations import quote

from batchwork_prefect.core import BuiltBatch, retryable, subset
from batchwork_prefect.core.retries import left_failing, over_allowance
from batchwork_prefect.errors import BatchTimeoutError, IncompleteResultsError, StoredRecordError
from batchwork_prefect.models import BatchResults, BatchSnapshot, PartHandle
from batchwork_prefect.orchestration._sync import sync
from batchwork_prefect.orchestration.persistence import (
    create_exclusive,
    ended_key,
    part_ref,
    read_optional,
    round_key,
    write_latest,
)
from batchwork_prefect.orchestration.release import release_until_ended
from batchwork_prefect.orchestration.reporting import batch_logger
from batchwork_prefect.orchestration.scopes import BatchScope
from batchwork_prefect.orchestration.stops import forget_stop_signal, stop_waiting
from batchwork_prefect.orchestration.summary import RoundShown, publish_summary
from batchwork_prefect.orchestration.tasks import read_part_results, submit_part, wait_for_part
from batchwork_prefect.outputs import typed_results
from batchwork_prefect.providers import BatchLimits


@dataclass(frozen=True)
class RoundOptions:
    """How every round of one `run_batch` call is submitted, awaited and read."""

    credentials: Any
    storage_options: dict[str, Any]
    poll_interval: float
    max_poll_interval: float
    max_wait_seconds: float | None
    cancel_on_timeout: bool
    release: bool
    poller_credentials: str | None
    storage: WritableFileSystem
    scope: BatchScope


@dataclass(frozen=True)
class Round:
    """One round as read: its attempt, its parts' handles, its own results, and its parts'
    ended snapshots where this process waited for them (the summary's wait time)."""

    attempt: int
    handles: list[PartHandle]
    results: BatchResults
    snapshots: list[BatchSnapshot] = field(default_factory=list)


def run_rounds(
    built: BuiltBatch, limits: BatchLimits, max_attempts: int, options: RoundOptions
) -> tuple[list[Round], BatchResults]:
    """Every round up to `max_attempts`, and the results merged (one per request)."""
    rounds: list[Round] = []
    merged: BatchResults | None = None
    current: BuiltBatch | None = built
    while current is not None:
        handles, results, snapshots = run_round(current, options)
        rounds.append(Round(current.attempt, handles, results, snapshots))
        merged = results if merged is None else merged.merge(results)
        current = next_round(built, rounds, merged, limits, max_attempts, options)
    assert merged is not None  # the first round always runs
    return rounds, merged


def record_rounds(
    built: BuiltBatch, rounds: list[Round], results: BatchResults, options: RoundOptions
) -> None:
    """The summary artifacts (in a flow or task run: Prefect deprecates them elsewhere),
    and the scope's `latest.json` pointer at every round's parts; the pointer is found by
    the root run's id and by this run's own (a subflow's) too."""
    handles = [handle for one in rounds for handle in one.handles]
    if FlowRunContext.get() is not None or TaskRunContext.get() is not None:
        publish_summary(
            built,
            [RoundShown(one.handles, one.results, one.snapshots) for one in rounds],
            results,
            options.scope.name,
            options.storage,
            options.storage_options.get("result_storage"),
        )
    aliases = {run for run in (options.scope.root_run, options.scope.run) if run is not None}
    write_latest(options.storage, options.scope.name, handles, aliases=aliases)


def check_left(rounds: list[Round], results: BatchResults, allow_failed: float | None) -> None:
    """Warn of the requests left failing after the last round; raise `IncompleteResultsError`
    when they are more than `allow_failed` lets through (None: never)."""
    left = left_failing(results.results)
    if left:
        batch_logger().warning(
            "%d of %d requests are left failing after %d attempt(s): %s",
            len(left),
            len(results),
            rounds[-1].attempt,
            ", ".join(f"{custom_id} ({why})" for custom_id, why in list(left.items())[:10])
            + (" ..." if len(left) > 10 else ""),
        )
    if over_allowance(len(left), len(results), allow_failed):
        assert allow_failed is not None  # over_allowance lets everything through without
        raise IncompleteResultsError(
            left=left, results=results, attempts=rounds[-1].attempt, allow_failed=allow_failed
        )


def next_round(
    built: BuiltBatch,
    rounds: list[Round],
    merged: BatchResults,
    limits: BatchLimits,
    max_attempts: int,
    options: RoundOptions,
) -> BuiltBatch | None:
    """The round after `rounds` (read, their results `merged`): the requests that failed
    for passing reasons, as recorded by an earlier run of this batch or recorded now;
    None when no round follows."""
    attempt = rounds[-1].attempt + 1
    again = retryable(merged.results)
    chosen = again if again and attempt <= max_attempts else {}
    ids = _round_requests(options, built, attempt, list(chosen))
    if not ids:
        return None
    reasons = _counted(again.get(one, "recorded earlier") for one in ids)
    batch_logger().info(
        "Round %d: %d request%s failed for passing reasons (%s); sending %s again as "
        "round %d of at most %d",
        attempt - 1,
        len(ids),
        "" if len(ids) == 1 else "s",
        reasons,
        "it" if len(ids) == 1 else "them",
        attempt,
        max_attempts,
    )
    earlier = tuple(handle.batch_id for one in rounds for handle in one.handles)
    return replace(subset(built, ids, limits, attempt=attempt), earlier_batches=earlier)


def _round_requests(
    options: RoundOptions, built: BuiltBatch, attempt: int, chosen: list[str]
) -> list[str]:
    """The requests round `attempt` sends: as recorded by an earlier run of this batch, else
    `chosen`, recorded now (before anything of the round is created); none: no round."""
    key = round_key(options.scope.name, built.digest, attempt)
    recorded = read_optional(options.storage, key)
    if recorded is None and chosen:
        record = orjson.dumps({"attempt": attempt, "custom_ids": chosen})
        taken = create_exclusive(options.storage, key, record)
        if taken is None:  # no create-if-absent here: the claims say so in the log
            sync(options.storage.write_path(key, record))
        if taken is not False:
            return chosen
        recorded = read_optional(options.storage, key)  # another run recorded it first
    if recorded is None:
        return []
    known = {custom_id for part in built.parts for custom_id in part.custom_ids}
    try:
        ids = orjson.loads(recorded)["custom_ids"]
        if isinstance(ids, list) and ids and all(isinstance(i, str) and i in known for i in ids):
            return list(ids)
    except (orjson.JSONDecodeError, TypeError, KeyError):
        pass
    raise StoredRecordError(
        f"{key!r} does not list requests of this batch: it was edited or damaged. Restore it, "
        "or delete it and every part folder of that round's batch after checking the "
        "provider's batches (a rerun then sends the round again)",
        key=key,
    )


def _counted(reasons: Any) -> str:
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    return ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items()))


def run_round(
    built: BuiltBatch, options: RoundOptions
) -> tuple[list[PartHandle], BatchResults, list[BatchSnapshot]]:
    """Submit, wait for (or release the run until) and read every part of one round: its
    handles, its results and its parts' ended snapshots."""
    run = options.scope.run
    handles = submit_part.with_options(**options.storage_options).map(
        unmapped(quote(built)),
        list(range(len(built.parts))),
        unmapped(options.scope),  # a model is iterable: Prefect would map over its fields
        unmapped(options.credentials),
    )
    max_wait_seconds = options.max_wait_seconds
    made = _submitted_or_stopped(handles, run) if options.release else []
    if made and not _ended_earlier(made, options):
        # suspends this run until the poller resumes it; returns once its batches ended
        max_wait_seconds = release_until_ended(
            made,
            options.poller_credentials,
            poll_interval=options.poll_interval,
            max_poll_interval=options.max_poll_interval,
            max_wait_seconds=max_wait_seconds,
        )
    waits = wait_for_part.with_options(**options.storage_options).map(
        handles,
        unmapped(options.scope),
        unmapped(options.credentials),
        poll_interval=options.poll_interval,
        max_poll_interval=options.max_poll_interval,
        max_wait_seconds=max_wait_seconds,
        cancel_on_timeout=options.cancel_on_timeout,
    )
    read = read_part_results.with_options(**options.storage_options)
    reads = [
        read.submit(
            handle,
            options.scope,
            options.credentials,
            built.output,
            wait_for=[ended],
            return_state=False,
        )
        for handle, ended in zip(handles, waits, strict=True)
    ]
    try:
        for submitted in handles:
            submitted.result()  # a failed submit fails the run with its own error
        for ended in waits:
            ended.result()  # a failed wait (timeout) fails the run with its own error
        parts = [future.result() for future in reads]
    except BaseException as exc:
        # Cancelled, or timed out with cancel_on_timeout: the other parts are cancelled too.
        # Any other failure (a part could not be submitted) leaves them for a rerun to resume.
        cancelling = isinstance(exc, (TerminationSignal, KeyboardInterrupt)) or (
            isinstance(exc, BatchTimeoutError) and options.cancel_on_timeout
        )
        stop_waiting(run, cancel_batches=cancelling)
        for ended in waits:
            ended.wait()
        raise
    finally:
        forget_stop_signal(run)
    return (
        [future.result() for future in handles],
        round_results(parts, built),
        [ended.result() for ended in waits],
    )


def round_results(parts: Sequence[BatchResults], built: BuiltBatch) -> BatchResults:
    """A round's parts as one collection, typed: parts read from storage keep `parsed` as
    JSON, and the batch's model gives them back as instances."""
    return typed_results(BatchResults.concat(parts), built.output)


def _ended_earlier(handles: list[PartHandle], options: RoundOptions) -> bool:
    """Whether every part's wait ended in an earlier attempt of the run (its ended record
    is stored): a rerun, or the resume of a later round, then asks the provider nothing."""
    return all(
        read_optional(options.storage, ended_key(options.scope.name, part_ref(handle))) is not None
        for handle in handles
    )


def _submitted_or_stopped(handles: Any, flow_run_id: object) -> list[PartHandle]:
    """The submits' handles; a stop meanwhile (SIGTERM, Ctrl-C) first ends their claim waits."""
    try:
        return [future.result() for future in handles]
    except (TerminationSignal, KeyboardInterrupt):
        stop_waiting(flow_run_id, cancel_batches=True)
        for future in handles:
            future.wait()
        raise
    finally:
        forget_stop_signal(flow_run_id)
