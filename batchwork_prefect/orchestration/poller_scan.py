"""The poller's reads of every wait record, made off its loop's thread, and how their
answer is merged with what the loop learnt while they ran (pure)."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.objects import FlowRun

from batchwork_prefect.orchestration.poller_runs import ENDED_RUN_STATES, missing_runs, read_runs
from batchwork_prefect.orchestration.resumes import ResumeLog
from batchwork_prefect.orchestration.wait_store import Snapshot, WaitStore
from batchwork_prefect.orchestration.waits import WaitRecord

SCAN_SHARE = 0.1
"""A scan takes at most this share of the time: the next starts no sooner than its own
duration divided by this after it began (10,000 records take seconds to read)."""


@dataclass
class Scan:
    """Every record, as read from `started` for `took` seconds."""

    snapshot: Snapshot
    started: float
    took: float


@dataclass
class GoneRuns:
    """The runs behind the records that are deleted, and those that ended."""

    missing: list[str] = field(default_factory=list)
    ended: list[FlowRun] = field(default_factory=list)


@dataclass
class SinceScan:
    """What the loop learnt after a scan began, newer than the scan's answer."""

    kept: set[str] = field(default_factory=set)  # records polled or read again
    forgotten: set[str] = field(default_factory=set)  # runs whose records it deleted
    resumes: dict[str, ResumeLog] = field(default_factory=dict)  # resumes it wrote


def read_scan(store: WaitStore) -> Scan:
    """Every record and log; the poller's variables of no record are deleted."""
    started = time.time()
    clock = time.monotonic()
    snapshot = store.snapshot()
    if snapshot.stale:
        store.delete(snapshot.stale)
    return Scan(snapshot, started, time.monotonic() - clock)


def read_gone(client: SyncPrefectClient, runs: Collection[str]) -> GoneRuns:
    """Which of `runs` were deleted, and which ended (read a page at a time)."""
    if not runs:
        return GoneRuns()
    ended = read_runs(client, runs, states=ENDED_RUN_STATES)
    return GoneRuns(missing_runs(client, runs), list(ended.values()))


def next_scan_in(scan_seconds: float, took: float) -> float:
    """Seconds from one scan's start to the next's: `scan_seconds`, or longer for a slow one."""
    return max(scan_seconds, took / SCAN_SHARE)


def merge_scan(
    scan: Scan,
    mine: Mapping[str, WaitRecord],
    since: SinceScan,
    in_flight: Collection[str],
) -> tuple[dict[str, WaitRecord], dict[str, ResumeLog]]:
    """The records and resume logs to keep: the scan's, except where the loop learnt newer
    ones after the scan began (polled, read again, resumed) or forgot the run meanwhile;
    a record the run wrote again (a later `written`) is the scan's. A record absent from
    the scan is dropped (its run deleted it) unless learnt since or being polled."""
    records: dict[str, WaitRecord] = {}
    for record in scan.snapshot.records:
        if record.run not in since.forgotten:
            records[record.name] = record
    for name, record in mine.items():
        if record.run in since.forgotten:
            continue
        read = records.get(name)
        if name in since.kept and (read is None or read.written <= record.written):
            records[name] = record  # the scan's is not newer: the run has not written since
        elif name in in_flight:
            records.setdefault(name, record)
    runs = {record.run for record in records.values()}
    resumes = {run: log for run, log in scan.snapshot.resumes.items() if run in runs}
    resumes.update({run: log for run, log in since.resumes.items() if run in runs})
    return records, resumes
