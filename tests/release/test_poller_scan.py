"""How the poller merges a scan made off its loop with what the loop learnt meanwhile, and
how often it scans (pure)."""

from __future__ import annotations

from batchwork_prefect.orchestration.poller_scan import (
    SCAN_SHARE,
    Scan,
    SinceScan,
    merge_scan,
    next_scan_in,
)
from batchwork_prefect.orchestration.resumes import ResumeLog
from batchwork_prefect.orchestration.wait_store import Snapshot
from tests.release.test_wait_schedule import NOW, OLD, RUN, YOUNG, record


def scan(*records: object, resumes: dict[str, ResumeLog] | None = None) -> Scan:
    snapshot = Snapshot(records=list(records), resumes=resumes or {})  # type: ignore[arg-type]
    return Scan(snapshot, started=NOW, took=1.0)


def test_a_record_polled_while_the_scan_ran_keeps_the_newer_schedule() -> None:
    read = record(polls=1, next_poll=NOW + 30)
    polled = record(polls=2, next_poll=NOW + 60)
    since = SinceScan(kept={polled.name})
    records, _ = merge_scan(scan(read), {polled.name: polled}, since, ())
    assert records == {polled.name: polled}


def test_a_record_the_run_wrote_again_meanwhile_is_the_scans() -> None:
    polled = record(polls=3, suspension="batchwork-1")
    rewritten = record(polls=0, suspension="batchwork-2", written=NOW)
    since = SinceScan(kept={polled.name})
    records, _ = merge_scan(scan(rewritten), {polled.name: polled}, since, ())
    assert records == {rewritten.name: rewritten}


def test_records_learnt_before_the_scan_began_are_replaced_or_dropped() -> None:
    mine = record(polls=5)
    gone = record(run=OLD, batch_id="msgbatch_2")
    read = record(polls=1)
    records, _ = merge_scan(scan(read), {mine.name: mine, gone.name: gone}, SinceScan(), ())
    assert records == {read.name: read}  # a record the scan did not see was deleted


def test_a_record_being_polled_stays_until_its_answer_is_taken_up() -> None:
    flying = record(run=YOUNG)
    records, _ = merge_scan(scan(), {flying.name: flying}, SinceScan(), {flying.name})
    assert records == {flying.name: flying}


def test_a_run_forgotten_while_the_scan_ran_is_not_brought_back() -> None:
    read = record()
    since = SinceScan(forgotten={RUN})
    records, resumes = merge_scan(scan(read, resumes={RUN: log()}), {}, since, ())
    assert (records, resumes) == ({}, {})


def test_a_resume_written_while_the_scan_ran_is_kept() -> None:
    read, newer = log("batchwork-1"), log("batchwork-2")
    since = SinceScan(resumes={RUN: newer})
    _, resumes = merge_scan(scan(record(), resumes={RUN: read}), {}, since, ())
    assert resumes == {RUN: newer}


def test_scans_are_every_scan_seconds_or_rarer_when_slow() -> None:
    assert next_scan_in(10.0, 0.5) == 10.0
    assert next_scan_in(10.0, 3.0) == 3.0 / SCAN_SHARE  # a 3 s read: every 30 s
    assert SCAN_SHARE == 0.1  # docs/operations.md: "a tenth of the time"


def log(suspension: str = "batchwork-1") -> ResumeLog:
    return ResumeLog(run=RUN, suspension=suspension, resumed_at=NOW)
