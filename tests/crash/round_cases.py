"""One retry-round case on the crash server: its emulator, where it is held, what it proves.

Three requests whose markers need one, two and three submissions (`ok`, `busy`, `late`):
every run goes through three rounds of one batch each. A case is held still where it is
killed: `between` by a claim on round 2's part that this test process holds (round 1 read,
round 2 without an intent), `create` by round 2's create answer held after the emulator
made the batch, `release` by frozen emulated time while the run is suspended.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, cast

import orjson
from prefect import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.filesystems import LocalFileSystem

from batchwork_prefect.core import build_parts, subset
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.orchestration.claims import Claim, this_process
from batchwork_prefect.orchestration.loading import load_batch_results
from batchwork_prefect.orchestration.persistence import (
    claim_key,
    create_exclusive,
    intent_key,
    latest_key,
    part_ref,
    read_optional,
    replace_whole,
)
from batchwork_prefect.orchestration.resumes import resumes_name
from batchwork_prefect.providers import get_format, split_model
from harness import Cluster, Worker, wait_until
from tests.crash.cases import CREATE_ROUTE, DEPLOYMENT, MODELS, default_storage

REQUESTS = [
    {"custom_id": "ok", "prompt": "Question ok"},
    {"custom_id": "busy", "prompt": "Question busy [[emulate:errored:overloaded_error:x1]]"},
    {"custom_id": "late", "prompt": "Question late [[emulate:expired:x2]]"},
]
NEEDED = {"ok": 1, "busy": 2, "late": 3}
"""Submissions each request needs (its marker's count, plus the one that succeeds)."""
BATCH_SECONDS = 600.0
"""Emulated run time of a released case's batches, passed by `emulator.advance`."""
WAITING_ON_CLAIM = "waiting for its batch id"


@dataclass
class RoundCase:
    """One run of `run-batch` with three rounds, held still at `point`."""

    point: str
    provider: str
    cluster: Cluster
    emulator: Emulator
    key: str
    queue: str
    worker: Worker | None = None
    run: FlowRun | None = None
    claim: tuple[str, Claim] | None = None
    kill: str = "worker tree"
    round_2_intent: str = ""
    _before_rerun: tuple[dict[str, int], int] = ({}, 0)
    measured: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, point: str, provider: str, cluster: Cluster, make_emulator: Any) -> RoundCase:
        block = f"rounds-{point}-{provider}"
        released = point == "release"
        emulator = make_emulator(
            block=block,
            provider=provider,
            processing_seconds=BATCH_SECONDS if released else 0,
            time_scale=0,
        )
        key = f"{block}-{uuid.uuid4().hex[:8]}"  # the cluster's storage outlives a test
        case = cls(point, provider, cluster, emulator, key, cluster.claim_queue())
        if point == "create":  # round 1's create is held too, let go by `to_kill_point`
            emulator.add_fault(Fault(route=CREATE_ROUTE[provider], hold_after_bytes=0, times=2))
        if point == "between":
            case.claim = case._hold_round_2_claim()
        case.worker = cluster.start_worker(case.queue)
        parameters: dict[str, Any] = {
            "model": MODELS[provider],
            "requests": REQUESTS,
            "credentials": block,
            "idempotency_key": key,
            "poll_interval": 1,
            "max_poll_interval": 2,
        }
        if released:
            parameters["wait"] = "release"
        case.run = cluster.run_deployment(DEPLOYMENT, case.queue, parameters)
        return case

    @property
    def name(self) -> str:
        return f"{self.point}, {self.provider}, {self.kill}"

    @property
    def run_id(self) -> str:
        assert self.run is not None
        return str(self.run.id)

    @property
    def creates(self) -> int:
        return self.emulator.calls[CREATE_ROUTE[self.provider]]

    @property
    def storage(self) -> LocalFileSystem:
        return default_storage(self.cluster)

    def _hold_round_2_claim(self) -> tuple[str, Claim]:
        """Take round 2's claim as a live process would: the run waits on it, no intent."""
        provider, model = split_model(MODELS[self.provider])  # as run_batch builds it
        limits = get_format(provider).limits
        built = build_parts(get_format(provider), model, REQUESTS, None, limits=None)
        second = subset(built, ["busy", "late"], limits, attempt=2)
        key = claim_key(self.key, part_ref(second, 0), 0)
        self.round_2_intent = intent_key(self.key, part_ref(second, 0))
        expires = datetime.now(UTC) + timedelta(minutes=10)
        claim = Claim(
            holder="crash-test", flow_run_id=None, expires_at=expires, process=this_process()
        )
        assert create_exclusive(self.storage, key, claim.model_dump_json().encode())
        return key, claim

    def let_round_2_go(self) -> None:
        """Release the claim (`between`) or the held create answer (`create`)."""
        if self.claim is not None:
            key, claim = self.claim
            released = claim.model_copy(update={"released": True})
            replace_whole(self.storage, key, released.model_dump_json().encode())
        self.emulator.release()

    def to_kill_point(self) -> None:
        """Let round 1 through where it is held too; wait until round 2 is held."""
        emu = self.emulator
        if self.point == "create":
            wait_until(lambda: emu.held == 1 and emu.batches_created == 1, 120, message="r1")
            emu.release()  # round 1's create answer: only round 2's is held from now on
            wait_until(lambda: emu.held == 1 and emu.batches_created == 2, 120, message=self.name)
        else:
            assert self.point == "between"
            wait_until(self._waiting_on_claim, 120, message=f"round 2's claim wait ({self.name})")
            assert emu.batches_created == 1  # round 1 was created and read, round 2 was not
            assert read_optional(self.storage, self.round_2_intent) is None  # nor intended
        self.measured["creates_at_kill"] = self.creates

    def _waiting_on_claim(self) -> bool:
        with self.cluster.settings(), get_client(sync_client=True) as client:
            run = [uuid.UUID(self.run_id)]
            logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=run)))
        return any(WAITING_ON_CLAIM in log.message for log in logs)

    def finish(self, *, automated: bool = False) -> FlowRun:
        return self.cluster.wait_for_state(
            self.run_id, StateType.COMPLETED, timeout=240, crash_is_final=not automated
        )

    def retry_after_the_end(self) -> None:
        """A UI Retry of the Completed run (`check_rerun` follows)."""
        self._before_rerun = (dict(self.emulator.calls), self.done_runs())
        self.cluster.retry_from_ui(self.run_id)

    def check_rerun(self) -> None:
        """The rerun ended Completed and called no provider endpoint."""
        calls, runs = self._before_rerun
        wait_until(lambda: self.done_runs() > runs, 120, message=f"the rerun ({self.name})")
        self.finish()
        moved = {
            route: n - calls.get(route, 0)
            for route, n in self.emulator.calls.items()
            if n != calls.get(route, 0)
        }
        self.measured["rerun"] = {"calls_moved": moved, "run_count": self.done_runs()}
        print(f"measured ({self.name}) rerun after the end: {self.measured['rerun']}")
        assert moved == {}, self.measured
        assert self.done_runs() == runs + 1

    def resume_log(self) -> dict[str, Any] | None:
        """The poller's log of its last resume of this run, while the run waits."""
        with self.cluster.settings(), get_client(sync_client=True) as client:
            variable = client.read_variable_by_name(resumes_name(self.run_id))
        return None if variable is None else cast(dict[str, Any], variable.value)

    def done_runs(self) -> int:
        return self.cluster.read_flow_run(self.run_id).run_count

    def check(self, run_count: int) -> None:
        """One batch per round, each request sent as its marker needs, one result each."""
        emu = self.emulator
        pointer = orjson.loads((self.storage_root() / latest_key(self.key)).read_bytes())
        results = load_batch_results(self.key, storage=self.storage)
        done = self.cluster.read_flow_run(self.run_id)
        api = cast(Literal["anthropic", "openai"], self.provider)
        self.measured.update(
            creates_per_round=dict(sorted(Counter(pointer["attempts"]).items())),
            creates=self.creates,
            batches=emu.batches_created,
            submissions={cid: emu.submissions(cid, api=api) for cid in NEEDED},
            results={r.custom_id: (r.status.value, r.attempts) for r in results.values()},
            final=(done.state_name, done.run_count),
        )
        print(f"measured ({self.name}) {self.measured}")
        assert self.measured["creates_per_round"] == {1: 1, 2: 1, 3: 1}, self.measured
        assert self.creates == emu.batches_created == 3, self.measured
        assert self.measured["submissions"] == NEEDED, self.measured
        assert self.measured["results"] == {
            cid: ("succeeded", attempts) for cid, attempts in NEEDED.items()
        }, self.measured
        assert all(r.text for r in results.values())
        assert done.state_name == "Completed" and done.run_count == run_count, self.measured

    def storage_root(self) -> Path:
        return Path(str(self.storage.basepath))
