"""The managed poller against a real Prefect server and the emulator.

The runs here are made Suspended through the API (as `suspend_flow_run` leaves them) and
their wait records written as a released run writes them; the poller's clock is a test
clock, so "the next poll is not due yet" is exact. The whole path, with a worker running
the released runs, is in tests/crash/test_release_mode.py.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from prefect import flow
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.settings import PREFECT_API_URL
from prefect.states import Cancelled, Failed, Suspended
from typer.testing import CliRunner

from batchwork_prefect import AnthropicCredentials
from batchwork_prefect.cli import app
from batchwork_prefect.core import build_parts, submit_built
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.models import BatchStatus
from batchwork_prefect.orchestration.credentials import connect
from batchwork_prefect.orchestration.poller import Poller
from batchwork_prefect.orchestration.poller_flow import batchwork_poller
from batchwork_prefect.orchestration.poller_status import status_rows
from batchwork_prefect.orchestration.wait_store import WaitStore
from batchwork_prefect.orchestration.waits import WaitRecord
from batchwork_prefect.providers import get_format
from harness.waiting import wait_until
from tests.support import API_KEY

BATCHWORK = str(Path(sys.executable).with_name("batchwork-prefect"))

BLOCK = "poller-tests"
T0 = float(int(time.time()))  # near the server's clock: states are compared with records


@flow(name="poller-test-run")
def waiting_run() -> None:
    """Only its runs are used: created and moved through states by the tests."""


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class Setup:
    client: SyncPrefectClient
    emulator: Emulator
    clock: Clock = field(default_factory=Clock)
    deployment: UUID | None = None

    def batches(self, count: int) -> list[str]:
        """`count` running emulator batches of two requests each."""
        provider = connect("anthropic", BLOCK)
        try:
            requests = [{"custom_id": f"r{i}", "prompt": f"Question {i}"} for i in range(2)]
            ids = []
            for _ in range(count):
                built = build_parts(get_format("anthropic"), "claude-opus-4-8", requests)
                ids.extend(submit_built(provider, built).ids)
            return ids
        finally:
            provider.close()

    def suspended_run(self, key: str = "batchwork-k1") -> FlowRun:
        """A deployment's run, Suspended as `suspend_flow_run` leaves it (Prefect resumes
        only a deployment's runs)."""
        if self.deployment is None:
            flow_id = self.client.create_flow(waiting_run)
            self.deployment = self.client.create_deployment(flow_id=flow_id, name="poller-test")
        return self.client.create_flow_run_from_deployment(
            self.deployment, state=Suspended(pause_key=key)
        )

    def records(
        self, run: FlowRun, batch_ids: list[str], *, key: str = "batchwork-k1", **fields: object
    ) -> list[WaitRecord]:
        store = WaitStore(self.client)
        written = []
        for part, batch_id in enumerate(batch_ids):
            values: dict[str, object] = {
                "run": str(run.id),
                "part": part,
                "parts": len(batch_ids),
                "provider": "anthropic",
                "batch_id": batch_id,
                "credentials": BLOCK,
                "started": self.clock.now - 60,
                "deadline": self.clock.now + 3600,
                "poll_interval": 30.0,
                "max_poll_interval": 300.0,
                "next_poll": self.clock.now,
                "status": BatchStatus.IN_PROGRESS,
                "suspension": key,
                "written": self.clock.now,
            }
            values.update(fields)
            record = WaitRecord.model_validate(values)
            store.put(record)
            written.append(record)
        return written

    def poller(self, **options: float) -> Poller:
        return Poller(self.client, clock=self.clock, **{"scan_seconds": 0.0, **options})

    def pending(self, run: FlowRun | None = None) -> list[WaitRecord]:
        records = WaitStore(self.client).read_all()
        return [r for r in records if run is None or r.run == str(run.id)]

    def state_names(self, run: FlowRun) -> list[str]:
        states = self.client.read_flow_run_states(run.id)
        return [str(s.name) for s in sorted(states, key=lambda s: s.timestamp)]


@pytest.fixture
def poller_log() -> Iterator[list[str]]:
    """The poller's log lines (its own handler: the CLI's turns propagation off)."""
    lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    poller_logger = logging.getLogger("batchwork.poller")
    poller_logger.addHandler(handler)
    level = poller_logger.level
    poller_logger.setLevel(logging.INFO)
    yield lines
    poller_logger.removeHandler(handler)
    poller_logger.setLevel(level)


@pytest.fixture
def setup() -> Iterator[Setup]:
    with Emulator(api_key=API_KEY, processing_seconds=600, time_scale=0) as emulator:
        AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url).save(
            BLOCK, overwrite=True
        )
        with get_client(sync_client=True) as client:
            store = WaitStore(client)
            store.delete(store.names())
            yield Setup(client, emulator)
            store.delete(store.names())


def test_a_run_is_resumed_once_when_every_batch_has_ended(setup: Setup) -> None:
    run = setup.suspended_run()
    setup.records(run, setup.batches(2))
    poller = setup.poller()
    report = poller.step()
    assert (report.polled, report.resumed, report.pending) == (2, 0, 2)
    assert setup.emulator.calls["retrieve"] == 2
    polled = setup.pending(run)
    assert [r.polls for r in polled] == [1, 1]
    assert all(r.next_poll > setup.clock.now for r in polled)  # kept for the next poller

    setup.emulator.advance(600)
    assert poller.step().polled == 0  # not due yet: the end waits for the next poll
    setup.clock.now = max(r.next_poll for r in polled)
    report = poller.step()
    assert (report.polled, report.resumed) == (2, 1)
    assert setup.client.read_flow_run(run.id).state_name == "Resuming"
    assert len(setup.pending(run)) == 2  # the run's to delete (or replace, if it suspends)
    notes = {row["note"] for row in status_rows(WaitStore(setup.client).snapshot(), T0)}
    assert notes == {"resumed: the run starts, then ends or suspends again"}
    setup.clock.now += 3600
    assert (poller.step().resumed, setup.poller().step().resumed) == (0, 0)
    assert setup.state_names(run).count("Resuming") == 1
    assert setup.emulator.calls["retrieve"] == 4  # a resumed suspension is not polled
    poller.close()


def test_a_restarted_poller_keeps_the_schedule_instead_of_polling_everything(
    setup: Setup,
) -> None:
    run = setup.suspended_run()
    setup.records(run, setup.batches(3))
    first = setup.poller()
    assert first.step().polled == 3
    first.close()  # killed: nothing in memory survives
    restarted = setup.poller()
    assert restarted.step().polled == 0
    assert setup.emulator.calls["retrieve"] == 3
    setup.clock.now += 30
    assert restarted.step().polled == 3
    restarted.close()


def test_polls_are_spread_at_most_max_polls_per_second_most_overdue_first(
    setup: Setup,
) -> None:
    run = setup.suspended_run()
    records = setup.records(run, setup.batches(25))
    store = WaitStore(setup.client)
    for record in records:  # part 24 is the most overdue
        store.put(record.model_copy(update={"next_poll": T0 - 10 * record.part}))
    poller = setup.poller(max_polls_per_second=10)
    assert poller.step().polled == 10
    polled = sorted(r.part for r in setup.pending(run) if r.polls == 1)
    assert polled == list(range(15, 25))
    assert poller.step().polled == 0  # the same instant: no budget left
    setup.clock.now += 1
    assert poller.step().polled == 10
    setup.clock.now += 1
    assert poller.step().polled == 5
    assert setup.emulator.calls["retrieve"] == 25
    poller.close()


def test_a_run_past_its_deadline_is_resumed_to_cancel_its_wait(setup: Setup) -> None:
    run = setup.suspended_run()
    setup.records(run, setup.batches(1), deadline=T0 + 10)
    poller = setup.poller()
    assert poller.step().resumed == 0
    setup.clock.now = T0 + 10
    assert poller.step().resumed == 1
    assert setup.client.read_flow_run(run.id).state_name == "Resuming"
    assert setup.emulator.calls["cancel"] == 0  # the resumed run cancels, as wait does
    poller.close()


def test_a_batch_that_cannot_be_polled_resumes_the_run_to_report_it(setup: Setup) -> None:
    run = setup.suspended_run()
    batch_ids = setup.batches(1)
    AnthropicCredentials(api_key="sk-ant-wrong-key", base_url=setup.emulator.base_url).save(
        "poller-wrong-key", overwrite=True
    )
    setup.records(run, batch_ids, credentials="poller-wrong-key")
    poller = setup.poller()
    assert poller.step().resumed == 1
    assert setup.client.read_flow_run(run.id).state_name == "Resuming"
    poller.close()


def test_a_poller_that_cannot_load_the_credentials_does_not_resume_the_run(
    setup: Setup,
) -> None:
    """The run would poll fine and suspend again: the poller's own set-up is at fault."""
    run = setup.suspended_run()
    setup.records(run, setup.batches(1), credentials="no-such-block")
    poller = setup.poller()
    assert poller.step().resumed == 0
    (record,) = setup.pending(run)
    assert (record.failures, record.error) == (1, None)
    assert setup.client.read_flow_run(run.id).state_name == "Suspended"
    poller.close()


def test_a_passing_outage_backs_off_and_keeps_waiting(setup: Setup) -> None:
    run = setup.suspended_run()
    batch_ids = setup.batches(1)
    setup.emulator.stop()  # unreachable: a transport error, transient
    setup.records(run, batch_ids)
    poller = setup.poller()
    report = poller.step()
    assert (report.polled, report.resumed) == (1, 0)
    (record,) = setup.pending(run)
    assert (record.failures, record.error) == (1, None)
    assert record.next_poll == pytest.approx(T0 + 30, abs=3.0)
    poller.close()


def test_a_run_cancelled_while_suspended_has_its_batches_cancelled(setup: Setup) -> None:
    run = setup.suspended_run()
    setup.records(run, setup.batches(2), written=T0 - 10_000)
    setup.client.set_flow_run_state(run.id, Cancelled(), force=True)
    poller = setup.poller()
    report = poller.step()
    assert (report.dropped, report.resumed) == (1, 0)
    assert setup.emulator.calls["cancel"] == 2
    assert setup.pending(run) == []
    poller.close()


def test_records_written_after_the_run_ended_are_kept(setup: Setup) -> None:
    """A Retry of a failed run writes new records: the old Failed state does not drop them."""
    run = setup.suspended_run()
    setup.client.set_flow_run_state(run.id, Failed(), force=True)
    setup.records(run, setup.batches(1), written=4_000_000_000.0)
    poller = setup.poller()
    assert poller.step().dropped == 0
    assert len(setup.pending(run)) == 1
    poller.close()


def test_a_later_suspension_is_not_woken_by_records_of_an_earlier_one(setup: Setup) -> None:
    run = setup.suspended_run(key="batchwork-k2")  # suspended again since
    setup.records(run, setup.batches(1), key="batchwork-k1", status=BatchStatus.COMPLETED)
    poller = setup.poller()
    assert poller.step().resumed == 0
    assert setup.client.read_flow_run(run.id).state_type == StateType.PAUSED
    poller.close()


def test_the_poller_runs_as_a_flow_too(setup: Setup) -> None:
    run = setup.suspended_run()
    setup.records(run, setup.batches(1), status=BatchStatus.COMPLETED)
    done = batchwork_poller(once=True)
    assert done == {"polled": 0, "resumed": 1, "dropped": 0, "pending": 0}
    assert setup.client.read_flow_run(run.id).state_name == "Resuming"


def test_two_pollers_resume_a_run_once(setup: Setup) -> None:
    run = setup.suspended_run()
    setup.records(run, setup.batches(1), status=BatchStatus.COMPLETED)
    one, two = setup.poller(), setup.poller()
    assert one.step().resumed + two.step().resumed == 1
    assert setup.state_names(run).count("Resuming") == 1
    one.close()
    two.close()


def test_the_status_view_lists_each_pending_batch(setup: Setup) -> None:
    run = setup.suspended_run()
    batch_ids = setup.batches(2)
    setup.records(run, batch_ids)
    rows = status_rows(WaitStore(setup.client).snapshot(), T0 + 5)
    assert [(row["run"], row["part"], row["batch_id"]) for row in rows] == [
        (str(run.id), 0, batch_ids[0]),
        (str(run.id), 1, batch_ids[1]),
    ]
    assert rows[0]["waiting_for"] == 65.0
    assert rows[0]["next_poll_in"] == -5.0
    assert rows[0]["deadline_in"] == 3595.0


def test_a_record_edited_into_another_shape_is_logged_once_and_listed_by_status(
    setup: Setup, poller_log: list[str]
) -> None:
    run = setup.suspended_run()
    (record,) = setup.records(run, setup.batches(1))
    edited = {**record.model_dump(mode="json"), "deadline": "tomorrow"}
    del edited["batch_id"]
    setup.client.request(
        "PATCH", "/variables/name/{name}", path_params={"name": record.name}, json={"value": edited}
    )
    assert setup.pending() == []
    poller = setup.poller()
    for _ in range(3):  # three scans, one line
        assert poller.step().polled == 0
        setup.clock.now += 60
    poller.close()
    reason = "batch_id, deadline missing or invalid"
    assert [line for line in poller_log if record.name in line] == [
        f"wait record {record.name} cannot be read ({reason}): the poller skips it; restore "
        "it as its run wrote it, or delete the variable if its run no longer waits"
    ]
    runner = CliRunner()
    shown = runner.invoke(app, ["poller", "status"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.splitlines() == [
        "no released runs are waiting",
        "1 wait record(s) cannot be read (the poller skips them):",
        f"  {record.name}: {reason}",
    ]
    rows = orjson.loads(runner.invoke(app, ["poller", "status", "--json"]).output)
    assert [(row["variable"], row["unreadable"]) for row in rows] == [(record.name, reason)]
    assert {key for key, value in rows[0].items() if value is not None} == {
        "variable",
        "unreadable",
    }
    assert setup.client.read_flow_run(run.id).state_name == "Suspended"  # nothing decided


def test_a_run_deleted_while_suspended_has_its_batches_cancelled_and_is_logged(
    setup: Setup, poller_log: list[str]
) -> None:
    run = setup.suspended_run()
    setup.records(run, setup.batches(2))
    setup.client.delete_flow_run(run.id)
    poller = setup.poller()
    report = poller.step()
    assert (report.dropped, report.polled, report.resumed) == (1, 0, 0)
    assert setup.emulator.calls["cancel"] == 2
    assert setup.pending(run) == []
    assert f"run {run.id} was deleted: dropping its wait records" in poller_log
    assert sum(f"run {run.id} was deleted: cancelled" in line for line in poller_log) == 2
    poller.close()


def test_a_run_that_suspends_again_after_each_resume_is_resumed_less_often_then_not_at_all(
    setup: Setup, poller_log: list[str]
) -> None:
    """A key the poller's block cannot use, the run's can: each poll is a 401, the run is
    resumed to report it, finds its batch running and suspends again (a new key)."""
    AnthropicCredentials(api_key="sk-ant-wrong-key", base_url=setup.emulator.base_url).save(
        "poller-wrong-key", overwrite=True
    )
    run = setup.suspended_run(key="batchwork-s0")
    batch_ids = setup.batches(1)
    setup.records(run, batch_ids, key="batchwork-s0", credentials="poller-wrong-key")

    def suspend_again(n: int) -> None:  # as the run does: its records, then the suspend
        setup.records(run, batch_ids, key=f"batchwork-s{n}", credentials="poller-wrong-key")
        setup.client.set_flow_run_state(run.id, Suspended(pause_key=f"batchwork-s{n}"), force=True)

    poller = setup.poller()
    assert poller.step().resumed == 1  # the first resume at once
    last = setup.clock.now
    for n, delay in enumerate([60, 120, 240, 480], start=1):
        suspend_again(n)
        setup.clock.now = last + delay - 1
        assert poller.step().resumed == 0, n
        (row,) = status_rows(WaitStore(setup.client).snapshot(), setup.clock.now)
        assert row["note"] == (
            f"{n} resume(s) in a row found a batch running: the next resume waits 1 s"
        )
        setup.clock.now = last + delay
        assert poller.step().resumed == 1, n
        last = setup.clock.now
    suspend_again(5)
    for _ in range(2):
        setup.clock.now += 100_000
        assert poller.step().resumed == 0
    poller.close()
    assert setup.state_names(run).count("Resuming") == 5
    assert setup.client.read_flow_run(run.id).state_name == "Suspended"
    given_up = [line for line in poller_log if line.startswith(f"not resuming run {run.id}")]
    assert len(given_up) == 1
    assert "5 times in a row" in given_up[0]
    assert f"prefect variable unset batchwork-resumed-{run.id}" in given_up[0]
    shown = CliRunner().invoke(app, ["poller", "status"])
    assert f"  note: {given_up[0]}" in shown.output.splitlines()
    setup.client.request(
        "DELETE", "/variables/name/{name}", path_params={"name": f"batchwork-resumed-{run.id}"}
    )
    assert setup.poller().step().resumed == 1  # the documented way to let it try again


def test_a_record_of_no_flow_run_is_skipped_and_polling_goes_on(setup: Setup) -> None:
    run = setup.suspended_run()
    (good,) = setup.records(run, setup.batches(1))
    bad = {**good.model_dump(mode="json"), "run": "not-a-run"}
    setup.client.request(
        "POST", "/variables/", json={"name": "batchwork-wait-not-a-run-0", "value": bad}
    )
    assert setup.pending() == [good]
    poller = setup.poller()
    assert poller.step().polled == 1
    poller.close()


def test_poller_status_prints_the_waiting_batches(setup: Setup) -> None:
    runner = CliRunner()
    empty = runner.invoke(app, ["poller", "status"])
    assert (empty.exit_code, empty.output) == (0, "no released runs are waiting\n")
    setup.clock.now = time.time()
    run = setup.suspended_run()
    batch_ids = setup.batches(2)
    setup.records(run, batch_ids)
    shown = runner.invoke(app, ["poller", "status"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert re.match(
        r"2 batch\(es\) of 1 run\(s\) waiting; oldest wait 6\ds; next poll in", lines[0]
    )
    assert [line.split()[2] for line in lines[2:]] == [batch[:28] for batch in batch_ids]
    assert all(line.split()[3] == "in_progress" for line in lines[2:])
    as_json = orjson.loads(runner.invoke(app, ["poller", "status", "--json"]).output)
    assert [row["batch_id"] for row in as_json] == batch_ids
    documented = "run part batch_id provider status polls next_poll_in waiting_for deadline_in"
    documented += " error note variable unreadable"  # docs/operations.md, "Seeing it"
    assert [set(row) for row in as_json] == [set(documented.split())] * 2
    assert [row["variable"] for row in as_json] == [r.name for r in setup.pending(run)]


def test_one_poller_process_resumes_a_hundred_waiting_runs_once_each(
    setup: Setup, tmp_path: Path
) -> None:
    """`batchwork-prefect poller` (the command) against 100 suspended runs, one batch each,
    all ended before it starts: one poll and one resume per run, nothing more."""
    setup.clock.now = time.time()  # the command's clock is the real one
    runs = [setup.suspended_run() for _ in range(100)]
    for run, batch_id in zip(runs, setup.batches(100), strict=True):
        setup.records(run, [batch_id], poll_interval=1, max_poll_interval=2)
    setup.emulator.advance(600)
    log = tmp_path / "poller.log"
    with log.open("wb") as out:
        poller = subprocess.Popen(
            [BATCHWORK, "poller", "--scan-seconds", "1"],
            env={**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_until(
            lambda: len(WaitStore(setup.client).snapshot().resumes) == 100,
            120,
            message=lambda: f"every run resumed\n{log.read_text()[-3000:]}",
        )
    finally:
        poller.terminate()
        poller.wait(30)
    resumed = [setup.state_names(run).count("Resuming") for run in runs]
    calls = {
        "retrieves": setup.emulator.calls["retrieve"],
        "resumes": sum(resumed),
        "cancels": setup.emulator.calls["cancel"],
    }
    print(f"one poller, 100 runs: {calls}")
    assert resumed == [1] * 100, calls
    assert calls == {"retrieves": 100, "resumes": 100, "cancels": 0}
    logged = log.read_text()
    assert logged.count("resumed run") == 100
    assert logged.count(" is completed (2/2 finished)") == 100  # each status change logged
    assert poller.returncode == 0  # SIGTERM: it stops cleanly
