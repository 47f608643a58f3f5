"""The poller's schedule and verdicts (pure): `wait`'s policy, kept per batch in a record."""

from __future__ import annotations

from uuid import NAMESPACE_URL, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect.core.polling import next_poll_delay, poll_error_delay
from batchwork_prefect.models import BatchStatus
from batchwork_prefect.orchestration.waits import (
    POLLER_FIELDS,
    PREFIX,
    SCHEDULE_PREFIX,
    RunView,
    Verdict,
    WaitRecord,
    after_failed_poll,
    after_poll,
    by_run,
    first_poll,
    merged,
    pollable,
    record_name,
    schedule_of,
    suspend_timeout,
)

NOW = 1_000_000.0
RUN, YOUNG, OLD = (str(uuid5(NAMESPACE_URL, name)) for name in ("run", "young", "old"))


def record(**fields: object) -> WaitRecord:
    values: dict[str, object] = {
        "run": RUN,
        "part": 0,
        "parts": 1,
        "provider": "anthropic",
        "batch_id": "msgbatch_1",
        "credentials": "anthropic",
        "started": NOW - 100,
        "deadline": NOW + 3600,
        "poll_interval": 30.0,
        "max_poll_interval": 300.0,
        "next_poll": NOW,
        "status": BatchStatus.IN_PROGRESS,
        "suspension": "batchwork-1",
        "written": NOW - 50,
    }
    values.update(fields)
    return WaitRecord.model_validate(values)


def test_a_record_is_named_after_its_run_and_part() -> None:
    assert record(part=2).name == record_name(RUN, 2) == f"{PREFIX}{RUN}-2"


def test_a_record_belongs_to_a_flow_run() -> None:
    with pytest.raises(ValueError, match="run"):
        record(run="not-a-flow-run")


def test_a_record_round_trips_through_json() -> None:
    original = record(error="401 invalid key", failures=2, polls=7)
    assert WaitRecord.model_validate_json(original.model_dump_json()) == original


@given(
    elapsed=st.floats(min_value=0, max_value=200_000),
    fraction=st.floats(min_value=0, max_value=0.999),
)
def test_the_next_poll_follows_waits_own_policy(elapsed: float, fraction: float) -> None:
    before = record(started=NOW - elapsed, polls=3, failures=2)
    after = after_poll(before, BatchStatus.IN_PROGRESS, NOW, random_fraction=fraction)
    expected = next_poll_delay(
        elapsed, poll_interval=30, max_poll_interval=300, random_fraction=fraction
    )
    assert after.next_poll == pytest.approx(NOW + expected)
    assert (after.polls, after.failures, after.status) == (4, 0, BatchStatus.IN_PROGRESS)
    # the end is noticed within 10% of the time waited (or the first interval)
    assert after.next_poll - NOW <= max(30.0, 0.1 * elapsed) + 1e-6


def test_a_provider_hint_is_a_floor() -> None:
    after = after_poll(record(started=NOW), BatchStatus.IN_PROGRESS, NOW, retry_after=45)
    assert after.next_poll == NOW + 45


def test_an_ended_batch_is_no_longer_due() -> None:
    ended = after_poll(record(), BatchStatus.COMPLETED, NOW)
    assert ended.ended
    assert not pollable(ended)
    assert pollable(record())


@pytest.mark.parametrize("failures", [0, 1, 4, 30])
def test_a_passing_failure_backs_off_like_wait(failures: int) -> None:
    after = after_failed_poll(record(failures=failures), "503", NOW, transient=True)
    delay = poll_error_delay(failures + 1, poll_interval=30, max_poll_interval=300)
    assert after.next_poll == pytest.approx(NOW + delay)
    assert (after.failures, after.error) == (failures + 1, None)


def test_a_definite_failure_resumes_the_run_to_report_it() -> None:
    after = after_failed_poll(record(), "401: invalid x-api-key", NOW, transient=False)
    assert after.error == "401: invalid x-api-key"
    assert not pollable(after)
    assert RunView(RUN, (after,)).verdict(NOW) is Verdict.RESUME


def test_a_run_waits_until_every_part_ended() -> None:
    parts = [record(part=p, parts=3, batch_id=f"b{p}") for p in range(3)]
    ended = [after_poll(r, BatchStatus.COMPLETED, NOW) for r in parts]
    assert RunView(RUN, tuple(parts)).verdict(NOW) is Verdict.WAIT
    assert RunView(RUN, (ended[0], ended[1], parts[2])).verdict(NOW) is Verdict.WAIT
    assert RunView(RUN, tuple(ended)).verdict(NOW) is Verdict.RESUME


def test_a_run_whose_records_are_not_all_written_yet_waits() -> None:
    ended = after_poll(record(part=0, parts=2), BatchStatus.COMPLETED, NOW)
    view = RunView(RUN, (ended,))
    assert not view.complete
    assert view.verdict(NOW) is Verdict.WAIT


def test_a_run_past_its_deadline_is_resumed_to_time_out() -> None:
    view = RunView(RUN, (record(deadline=NOW - 1),))
    assert view.verdict(NOW) is Verdict.RESUME
    assert RunView(RUN, (record(deadline=None),)).verdict(NOW + 10**9) is Verdict.WAIT


def test_records_group_by_run_oldest_wait_first() -> None:
    young = record(run=YOUNG, started=NOW - 10)
    old = [record(run=OLD, part=p, parts=2, started=NOW - 500) for p in (1, 0)]
    views = by_run([young, *old])
    assert [view.run for view in views] == [OLD, YOUNG]
    assert [r.part for r in views[0].records] == [0, 1]


def test_the_first_poll_of_a_released_batch_is_waits_next_one() -> None:
    assert first_poll(NOW - 1000, NOW, 30, 300) == NOW + 100  # a tenth of the wait so far
    assert first_poll(NOW, NOW, 30, 300) == NOW + 30


def test_prefect_keeps_the_run_suspended_past_its_deadline() -> None:
    assert suspend_timeout(None, NOW, 3600) is None
    assert suspend_timeout(NOW + 100, NOW, 3600) == 3700
    assert suspend_timeout(NOW - 10_000, NOW, 3600) == 1  # already late: fail soon


def test_the_pollers_schedule_applies_only_under_its_own_suspension() -> None:
    """The poller writes what it learnt to its own variable; a record the run has written
    since (a new suspension key) is read as the run wrote it."""
    polled = after_poll(record(), BatchStatus.COMPLETED, NOW)
    schedule = schedule_of(polled)
    assert schedule.name == f"{SCHEDULE_PREFIX}{RUN}-0"
    assert merged(record(), schedule) == polled
    rewritten = record(suspension="batchwork-2", polls=0)
    assert merged(rewritten, schedule) == rewritten
    assert {name for name in type(schedule).model_fields} - {"run", "part", "suspension"} == set(
        POLLER_FIELDS
    )


def test_records_of_two_suspensions_wait() -> None:
    """The run rewrites its records one by one: until all carry the new key, no verdict."""
    ended = BatchStatus.COMPLETED
    mixed = RunView(
        RUN,
        (
            record(part=0, parts=2, status=ended),
            record(part=1, parts=2, status=ended, suspension="batchwork-2"),
        ),
    )
    assert mixed.suspension is None
    assert mixed.verdict(NOW) is Verdict.WAIT
