"""The bound on resumes that find nothing to report (pure): `resumes.resume_gate`."""

from __future__ import annotations

import itertools
from uuid import NAMESPACE_URL, uuid5

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect.orchestration.resumes import (
    FRUITLESS_BACKOFF,
    FRUITLESS_LIMIT,
    Gate,
    ResumeLog,
    after_resume,
    fruitless_delay,
    gave_up_message,
    resume_gate,
    resumes_name,
)

RUN = str(uuid5(NAMESPACE_URL, "run"))
NOW = 1_000_000.0


def test_a_run_never_resumed_is_resumed_at_once() -> None:
    assert resume_gate(None, "k1", NOW).gate is Gate.NOW


def test_the_suspension_resumed_already_is_not_resumed_again() -> None:
    log = after_resume(None, RUN, "k1", NOW)
    assert resume_gate(log, "k1", NOW + 10**6).gate is Gate.DONE


def test_resumes_that_end_in_a_new_suspension_back_off_doubling_then_stop() -> None:
    """Walk the policy as the poller does: resume, the run suspends again (a new key)."""
    log = after_resume(None, RUN, "k0", NOW)
    times = [NOW]
    for n in range(1, 10):
        decision = resume_gate(log, f"k{n}", log.resumed_at)
        if decision.gate is Gate.NEVER:
            break
        assert decision.gate is Gate.LATER
        assert resume_gate(log, f"k{n}", decision.at - 0.001).gate is Gate.LATER
        assert resume_gate(log, f"k{n}", decision.at).gate is Gate.NOW
        log = after_resume(log, RUN, f"k{n}", decision.at)
        times.append(decision.at)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(times) == FRUITLESS_LIMIT == 5
    assert gaps == [60.0, 120.0, 240.0, 480.0]
    assert log.fruitless == FRUITLESS_LIMIT - 1
    final = resume_gate(log, "k-last", NOW + 10**9)
    assert (final.gate, final.fruitless) == (Gate.NEVER, FRUITLESS_LIMIT)


@given(st.integers(min_value=1, max_value=FRUITLESS_LIMIT - 1))
def test_the_delay_doubles_from_the_backoff(fruitless: int) -> None:
    assert fruitless_delay(fruitless) == FRUITLESS_BACKOFF * 2 ** (fruitless - 1)
    assert fruitless_delay(0) == 0.0


def test_the_log_is_a_json_variable_named_after_the_run() -> None:
    log = after_resume(None, RUN, "k1", NOW)
    assert log.name == resumes_name(RUN) == f"batchwork-resumed-{RUN}"
    assert ResumeLog.model_validate_json(log.model_dump_json()) == log
    with pytest.raises(ValueError, match="run"):
        ResumeLog(run="not-a-run", suspension="k1", resumed_at=NOW)


def test_giving_up_names_the_fix() -> None:
    message = gave_up_message(RUN, FRUITLESS_LIMIT)
    assert f"prefect variable unset batchwork-resumed-{RUN}" in message
    assert "credentials" in message


def test_a_new_suspension_over_other_batches_is_a_retry_round_not_a_resume_for_nothing() -> None:
    # four fruitless resumes, one short of giving up; then the run suspends over new batches
    log = after_resume(None, RUN, "k0", NOW, ("b1",))
    for step in range(1, FRUITLESS_LIMIT - 1):
        log = after_resume(log, RUN, f"k{step}", NOW + 10**6 * step, ("b1",))
    assert log.fruitless == FRUITLESS_LIMIT - 2
    later = NOW + 10**8
    assert resume_gate(log, "next", later, ("b1",)).gate is Gate.NOW  # one more would be
    assert resume_gate(log, "next", log.resumed_at, ("b1",)).gate is Gate.LATER  # backed off
    round_2 = resume_gate(log, "next", log.resumed_at, ("b2", "b3"))
    assert (round_2.gate, round_2.fruitless) == (Gate.NOW, 0)  # at once: progress
    assert after_resume(log, RUN, "next", later, ("b2", "b3")).fruitless == 0
    # a log written before batches were kept counts as before
    old = ResumeLog(run=RUN, suspension="k0", resumed_at=NOW, fruitless=1)
    assert resume_gate(old, "k1", NOW, ("b2",)).fruitless == 2


def test_a_suspension_on_other_batches_is_the_next_round_not_a_resume_for_nothing() -> None:
    """A released run resumed after round 1 reads it and suspends for round 2's batch: a new
    suspension on a batch the resumed one did not wait on, so no backoff and no count."""
    log = after_resume(None, RUN, "k1", NOW, ["batch-r1"])
    assert log.batches == ("batch-r1",)
    next_round = resume_gate(log, "k2", NOW + 1, ["batch-r2"])
    assert (next_round.gate, next_round.fruitless) == (Gate.NOW, 0)
    log = after_resume(log, RUN, "k2", NOW + 1, ["batch-r2"])
    assert (log.fruitless, log.batches) == (0, ("batch-r2",))
    # the same batch again (or any of them) is a resume for nothing, as before
    for batches in (["batch-r2"], ["batch-r2", "batch-r3"]):
        again = resume_gate(log, "k3", NOW + 2, batches)
        assert (again.gate, again.fruitless) == (Gate.LATER, 1)
    # a log written before batches were kept, or a run that names none: as before
    old = ResumeLog(run=RUN, suspension="k1", resumed_at=NOW)
    assert resume_gate(old, "k2", NOW + 1, ["batch-r2"]).gate is Gate.LATER
    assert resume_gate(log, "k3", NOW + 2).gate is Gate.LATER
