"""One crash case of the matrix: its emulator, its kill point, how it ends, its proof."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.filesystems import LocalFileSystem

from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.orchestration.loading import load_batch_results
from harness import (
    Cluster,
    Worker,
    flow_run_processes,
    kill_worker_tree,
    marked_processes,
    surviving,
    wait_until,
)

DEPLOYMENT = "run-batch/run-batch"
PARTS = 3
MODELS = {
    "anthropic": "anthropic/claude-opus-4-8",
    "openai": "openai/gpt-4o-mini",
    "together": "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "mistral": "mistral/mistral-small-latest",
    "xai": "xai/grok-4-1-fast-reasoning",
    "gemini": "gemini/gemini-2.5-flash",
}
# The emulator's route names for the create and its results download, per provider
# (Gemini's parts are small enough for inline requests: their results come with the batch).
CREATE_ROUTE = {
    "anthropic": "create",
    "openai": "openai.batches.create",
    "together": "together.batches.create",
    "mistral": "mistral.jobs.create",
    "xai": "xai.batches.create",  # the make; its requests are added after it
    "gemini": "gemini.batches.create",
}
RESULTS_ROUTE = {
    "anthropic": "results",
    "openai": "openai.files.content",
    "together": "together.files.content",
    "mistral": "mistral.files.content",
    "xai": "xai.batches.results",
    "gemini": "gemini.batches.get",
}
REFILLED = {"xai": 1}
"""Batches made besides one per part: xAI's killed make left an empty batch, adopted, whose
requests (never added, never paid) a retry round sends in a batch of their own."""
PROMPTS = [{"custom_id": f"q{index:03d}", "prompt": f"Question {index}"} for index in range(250)]
EXPECTED = {p["custom_id"]: f"Emulated reply to: {p['prompt']}" for p in PROMPTS}


@dataclass
class Case:
    """One kill point: how its emulator is set up, when to kill, what to do after."""

    point: str
    cluster: Cluster
    emulator: Emulator
    queue: str
    provider: str = "anthropic"
    run: FlowRun | None = None
    worker: Worker | None = None
    measured: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(
        cls,
        point: str,
        cluster: Cluster,
        make_emulator: Callable[..., Emulator],
        storage: str | None = None,
        *,
        provider: str = "anthropic",
    ) -> Case:
        """Set the emulator up for `point` and start the run on a fresh queue and worker.

        `provider="openai"` runs case (d) through OpenAI's wire format (upload, then create),
        `provider="gemini"` through Gemini's (inline requests)."""
        assert provider == "anthropic" or point == "d", "only (d) has other providers' variants"
        ending = point in ("c", "d")  # (a) and (b) need the batches to stay open
        block = f"emulator-{point}" if provider == "anthropic" else f"emulator-{provider}-{point}"
        emulator = make_emulator(
            block=block,
            provider=provider,
            processing_seconds=0 if ending else 3600,
            time_scale=0,
        )
        if point == "a":
            emulator.add_fault(Fault(route="retrieve", hold_after_bytes=0, times=PARTS))
        elif point == "c":
            emulator.add_fault(Fault(route="results", hold_after_bytes=1000, times=PARTS))
        elif point == "d":
            emulator.add_fault(Fault(route=CREATE_ROUTE[provider], hold_after_bytes=0))
        case = cls(point, cluster, emulator, cluster.claim_queue(), provider)
        case.worker = cluster.start_worker(case.queue)
        parameters: dict[str, Any] = {
            "model": MODELS[provider],
            "requests": PROMPTS,
            "credentials": block,
            "max_requests_per_batch": 100,
            "poll_interval": 1,
            "max_poll_interval": 2,
        }
        if storage:
            parameters["result_storage"] = storage
        case.run = cluster.run_deployment(DEPLOYMENT, case.queue, parameters)
        return case

    @property
    def creates(self) -> int:
        """Create calls the emulator has answered or held so far."""
        return self.emulator.calls[CREATE_ROUTE[self.provider]]

    @property
    def run_id(self) -> str:
        assert self.run is not None
        return str(self.run.id)

    def at_kill_point(self) -> bool:
        """Whether the run has reached the point where this case kills it."""
        emu = self.emulator
        if self.point == "a":  # every part created, each wait's first poll held
            return emu.batches_created == PARTS and emu.held == PARTS
        if self.point == "b":  # every part polled at least twice
            return emu.batches_created == PARTS and emu.calls["retrieve"] >= 2 * PARTS
        if self.point == "c":  # every part's results download is in flight
            return emu.held == PARTS
        return emu.held == 1 and emu.batches_created == 1  # (d): a create is in flight

    def kill(self, worker: Worker | None = None) -> None:
        """Wait for the kill point, SIGKILL the worker tree, let held responses go."""
        wait_until(self.at_kill_point, 180, message=f"kill point ({self.point})")
        victim = worker or self.worker
        assert victim is not None
        tree = victim.tree()
        assert len(tree) >= 2, tree  # the worker and the flow-run process
        assert set(flow_run_processes(self.run_id)) <= set(tree)
        killed = kill_worker_tree(victim)
        assert set(tree) <= set(killed)
        assert surviving(killed) == []
        assert marked_processes(victim.name) == []
        assert flow_run_processes(self.run_id) == []
        assert not victim.alive()
        self.measured["creates_before_kill"] = self.creates
        self.emulator.release()
        assert self.cluster.read_flow_run(self.run_id).state_type == StateType.RUNNING

    def finish(self, timeout: float = 240, *, automated: bool = False) -> FlowRun:
        """Let open batches end once the rerun polls them; wait for Completed.

        `automated`: the automations resume the run, so Crashed is on its way, not final.
        """
        if self.point in ("a", "b"):
            polls = self.emulator.calls["retrieve"]
            wait_until(
                lambda: self.emulator.calls["retrieve"] > polls,
                timeout,
                message=f"the rerun's poll ({self.point})",
            )
            self.emulator.advance(3600)
        return self.cluster.wait_for_state(
            self.run_id, StateType.COMPLETED, timeout=timeout, crash_is_final=not automated
        )

    def check(self, storage: LocalFileSystem) -> None:
        """Exactly one batch per part, every result present and correct; record the counts."""
        emu = self.emulator
        results = load_batch_results(self.run_id, storage=storage)
        self.measured.update(
            creates=self.creates,
            batches=emu.batches_created,
            results=len(results),
            downloads=emu.calls[RESULTS_ROUTE[self.provider]],
            run_count=self.cluster.read_flow_run(self.run_id).run_count,
        )
        print(f"case ({self.point}, {self.provider}): {self.measured}")
        extra = REFILLED.get(self.provider, 0)
        assert emu.batches_created == PARTS + extra, self.measured
        assert self.creates == PARTS + extra, self.measured
        assert len(set(results.batch_ids)) == PARTS + extra
        assert results.texts() == EXPECTED
        if self.provider == "xai":  # no request was added to two batches: none paid twice
            added = {emu.submissions(cid, api="xai") for cid in EXPECTED}
            assert added == {1}, added
        if self.point == "d":
            notes = [intent["note"] for intent in self._intents(storage)]
            assert notes.count("adopted from list") == 1, notes

    def _intents(self, storage: LocalFileSystem) -> list[dict[str, Any]]:
        folder = Path(str(storage.basepath)) / "batchwork" / self.run_id
        return [orjson.loads(path.read_bytes()) for path in folder.rglob("intent.json")]


def default_storage(cluster: Cluster) -> LocalFileSystem:
    return LocalFileSystem(basepath=str(cluster.storage_path))
