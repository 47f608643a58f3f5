"""A claim's lease: renewed while its holder lives, free soon after it dies, never trusted
by a holder that could not renew it, and a wait on it that ends when the run is stopped."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from prefect.filesystems import LocalFileSystem

from batchwork_prefect import ClaimLostError, ConfigurationError, WaitStopped
from batchwork_prefect.core import build_parts
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.orchestration.claims import (
    LEASE_ENV,
    Claim,
    ProcessId,
    claim_lease,
    is_free,
    is_gone,
    this_process,
)
from batchwork_prefect.orchestration.intents import (
    IntentState,
    SubmitIntent,
    read_intent,
    write_intent,
)
from batchwork_prefect.orchestration.persistence import (
    claim_key,
    create_exclusive,
    intent_key,
    part_ref,
    replace_whole,
)
from batchwork_prefect.orchestration.stops import StopSignal
from batchwork_prefect.orchestration.submission import PartSubmission
from batchwork_prefect.providers.anthropic import AnthropicProvider
from tests.orchestration.claim_race import REQUESTS
from tests.support import API_KEY

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def _claim(**fields: Any) -> Claim:
    return Claim(**{"holder": "h", "flow_run_id": "run-a", "expires_at": LATER, **fields})


def _exited_process() -> ProcessId:
    """The id of a process of this machine that has ended."""
    code = (
        "from batchwork_prefect.orchestration.claims import this_process;"
        "print(this_process().model_dump_json())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, text=True)
    return ProcessId.model_validate_json(out.stdout)


@pytest.mark.parametrize(
    ("claim", "own_run", "ended", "free"),
    [
        (_claim(), "run-b", False, False),  # a live holder of another run
        (_claim(released=True), "run-b", False, True),
        (_claim(expires_at=NOW), "run-b", False, True),  # its lease lapsed
        (_claim(expires_at=NOW - timedelta(seconds=1)), "run-b", False, True),
        (_claim(), "run-a", False, True),  # an earlier attempt of this very run
        (_claim(), "run-b", True, True),  # its flow run has ended
        (_claim(flow_run_id=None), "run-b", True, False),  # no run to ask about
        (_claim(flow_run_id=None), None, False, False),
    ],
)
def test_which_claims_are_free(claim: Claim, own_run: str | None, ended: bool, free: bool) -> None:
    assert is_free(claim, now=NOW, own_run=own_run, run_ended=lambda _: ended) is free


def test_a_holder_seen_gone_on_this_machine_frees_its_claim_before_its_lease_ends() -> None:
    me = this_process()
    assert me is not None and is_gone(me) is False
    gone = _exited_process()
    assert is_gone(gone) is True
    assert is_free(_claim(process=gone), now=NOW, own_run="run-b", run_ended=None) is True
    # another pid namespace (a container, another machine) cannot be judged: the lease decides
    elsewhere = gone.model_copy(update={"namespace": "another-machine"})
    assert is_gone(elsewhere) is False
    # a reused pid is told apart by its start time
    assert is_gone(me.model_copy(update={"started": me.started + 1})) is True


@pytest.mark.parametrize(
    ("raw", "seconds"), [(None, 60.0), ("5", 5.0), ("1", 1.0), ("3600", 3600.0)]
)
def test_the_lease_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str | None, seconds: float
) -> None:
    if raw is None:
        monkeypatch.delenv(LEASE_ENV, raising=False)
    else:
        monkeypatch.setenv(LEASE_ENV, raw)
    assert claim_lease() == timedelta(seconds=seconds)


@pytest.mark.parametrize("raw", ["0", "0.5", "3601", "soon", "nan"])
def test_a_lease_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(LEASE_ENV, raw)
    with pytest.raises(ConfigurationError, match=LEASE_ENV):
        claim_lease()


def _submission(
    emulator: Emulator, storage: LocalFileSystem, run_id: str, **options: Any
) -> PartSubmission:
    provider = AnthropicProvider(api_key=API_KEY, base_url=emulator.base_url)
    built = build_parts(provider, "claude-opus-4-8", REQUESTS)
    return PartSubmission(
        provider, built, 0, scope="lease", storage=storage, flow_run_id=run_id, **options
    )


def _keys(emulator: Emulator) -> tuple[str, str, str]:
    provider = AnthropicProvider(api_key=API_KEY, base_url=emulator.base_url)
    ref = part_ref(build_parts(provider, "claude-opus-4-8", REQUESTS), 0)
    return claim_key("lease", ref, 0), claim_key("lease", ref, 1), intent_key("lease", ref)


def test_a_create_longer_than_the_lease_keeps_its_claim_and_is_created_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    storage = LocalFileSystem(basepath=str(tmp_path))
    claim_0, claim_1, _ = _keys(emulator)
    lease = timedelta(seconds=1)
    emulator.add_fault(Fault(route="create", hold_after_bytes=0))
    holder_ids: list[str] = []
    holder = threading.Thread(
        target=lambda: holder_ids.append(
            _submission(emulator, storage, "run-a", lease=lease).run().id
        )
    )
    holder.start()
    assert emulator.wait_held(1, timeout=60)  # the holder's create is in flight
    first = Claim.model_validate_json(storage.read_path(claim_0))
    taken_before_the_answer: list[bool] = []

    def look_again(seconds: float) -> None:
        # the waiter's poll, shortened; once the claim outlived its first lease twice over,
        # the holder's create answers
        time.sleep(0.1)
        if datetime.now(UTC) > first.expires_at + 2 * lease and emulator.held:
            taken_before_the_answer.append(storage._resolve_path(claim_1).exists())
            emulator.release()

    waiter = _submission(emulator, storage, "run-b", lease=lease, sleep=look_again)
    snapshot = waiter.run()
    holder.join(60)
    renewed = Claim.model_validate_json(storage.read_path(claim_0))
    assert renewed.holder == first.holder and renewed.expires_at > first.expires_at + lease
    # the answer came from inside the waiter's wait, two leases past the first: it was
    # still waiting then, and had not taken the claim over
    assert taken_before_the_answer == [False]
    assert emulator.calls["create"] == 1 and emulator.batches_created == 1
    assert holder_ids == [snapshot.id]


class _Unreachable(LocalFileSystem):
    """A local folder that stops answering reads (a storage partition) when told to."""

    _block_type_slug = "unreachable-local-file-system"
    cut: bool = False
    partitioned: bool = False

    def read_path(self, path: str) -> Any:
        if self.cut and "claim-" in path:
            raise ConnectionError("storage unreachable")
        return super().read_path(path)

    def write_path(self, path: str, content: bytes) -> Any:
        if path.endswith("intent.json") and not self.partitioned:
            # partitioned while the intent is written, until the claim's lease has lapsed
            self.cut = self.partitioned = True
            result = super().write_path(path, content)
            claim = next(Path(self.basepath).rglob("claim-0.json"))
            while datetime.now(UTC) <= Claim.model_validate_json(claim.read_bytes()).expires_at:
                time.sleep(0.05)
            self.cut = False
            return result
        return super().write_path(path, content)


def test_a_holder_that_could_not_renew_its_lease_creates_nothing_and_a_rerun_creates_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    storage = _Unreachable(basepath=str(tmp_path))
    _, _, key = _keys(emulator)
    with pytest.raises(ClaimLostError, match="not renewed") as lost:
        _submission(emulator, storage, "run-a", lease=timedelta(seconds=1)).run()
    assert lost.value.taken_over is False
    assert emulator.calls["create"] == 0
    intent = read_intent(storage, key)
    assert intent is not None and intent.state == "not_created"
    # the rerun finds the claim lapsed and the intent saying nothing was sent: it creates
    snapshot = _submission(emulator, LocalFileSystem(basepath=str(tmp_path)), "run-b").run()
    assert emulator.calls["create"] == 1 and snapshot.request_counts.total == 2


def test_a_holder_whose_claim_was_taken_over_creates_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    storage = LocalFileSystem(basepath=str(tmp_path))
    _, claim_1, key = _keys(emulator)

    class TakenOver(LocalFileSystem):
        _block_type_slug = "taken-over-local-file-system"

        def write_path(self, path: str, content: bytes) -> Any:
            result = super().write_path(path, content)
            if path.endswith("intent.json"):  # a taker comes in right after the intent
                later = datetime.now(UTC) + timedelta(minutes=15)
                taker = Claim(holder="t", flow_run_id="run-t", expires_at=later)
                assert create_exclusive(storage, claim_1, taker.model_dump_json().encode())
            return result

    with pytest.raises(ClaimLostError, match="took it over") as lost:
        _submission(emulator, TakenOver(basepath=str(tmp_path)), "run-a").run()
    assert lost.value.taken_over is True
    assert emulator.calls["create"] == 0
    intent = read_intent(storage, key)  # left pending: the taker may be reading it
    assert intent is not None and intent.state == "pending"


def test_a_wait_on_another_runs_claim_ends_when_the_run_is_told_to_stop(
    emulator: Emulator, tmp_path: Path
) -> None:
    storage = LocalFileSystem(basepath=str(tmp_path))
    claim_0, claim_1, _ = _keys(emulator)
    later = datetime.now(UTC) + timedelta(minutes=15)
    live = Claim(holder="h", flow_run_id="run-a", expires_at=later, process=this_process())
    assert create_exclusive(storage, claim_0, live.model_dump_json().encode())
    stop = StopSignal()
    looks: list[float] = []

    def look_then_stop(seconds: float) -> None:
        looks.append(seconds)
        stop.event.set()  # SIGTERM or Ctrl-C reached the flow run meanwhile
        stop.sleep(seconds)

    waiter = _submission(emulator, storage, "run-b", sleep=look_then_stop)
    with pytest.raises(WaitStopped):
        waiter.run()
    assert looks == [1.0]
    assert emulator.calls["create"] == 0
    assert not storage._resolve_path(claim_1).exists()
    assert orjson.loads(storage.read_path(claim_0))["holder"] == "h"  # left to its holder


def test_a_renewal_replaces_the_claim_whole(tmp_path: Path) -> None:
    storage = LocalFileSystem(basepath=str(tmp_path))
    assert create_exclusive(storage, "part/claim-0.json", b'{"first": 1}')
    path = tmp_path / "part" / "claim-0.json"
    before = path.stat().st_ino
    replace_whole(storage, "part/claim-0.json", b'{"renewed": 2}')
    # renamed into place (a new inode), never rewritten in place: no reader sees a part
    assert path.stat().st_ino != before
    assert path.read_bytes() == b'{"renewed": 2}'
    assert [p.name for p in path.parent.iterdir()] == ["claim-0.json"]


def test_a_taker_whose_look_meets_the_holders_created_write_resumes_and_never_creates(
    emulator: Emulator, tmp_path: Path
) -> None:
    # The holder's lease looks lapsed to the taker (paused, or clocks apart) while its
    # create is landing: the taker reads the intent pending, and right after that read the
    # holder records the batch it made.
    provider = AnthropicProvider(api_key=API_KEY, base_url=emulator.base_url)
    built = build_parts(provider, "claude-opus-4-8", REQUESTS)
    claim_0, _, key = _keys(emulator)
    plain = LocalFileSystem(basepath=str(tmp_path))
    lapsed = Claim(holder="h", flow_run_id="run-h", expires_at=datetime.now(UTC))
    assert create_exclusive(plain, claim_0, lapsed.model_dump_json().encode())
    pending = SubmitIntent(
        endpoint=provider.endpoint,
        provider="anthropic",
        model=built.model,
        digest=built.digest,
        part=0,
        part_digest=built.parts[0].digest,
        request_count=2,
        attempted_at=datetime.now(UTC),
        state=IntentState.PENDING,
    )
    write_intent(plain, key, pending)
    made = provider.create(built.parts[0].encoded, digest=built.parts[0].digest)
    created = pending.model_copy(update={"state": IntentState.CREATED, "batch_id": made.id})
    reads: list[str] = []

    class Landing(LocalFileSystem):
        _block_type_slug = "landing-local-file-system"

        def read_path(self, path: str) -> Any:
            data = super().read_path(path)
            if path.endswith("intent.json"):
                reads.append(path)
                if len(reads) == 3:  # the taker's look after taking the claim
                    write_intent(plain, key, created)
            return data

    snapshot = _submission(emulator, Landing(basepath=str(tmp_path)), "run-t").run()
    assert snapshot.id == made.id  # adopted (its pending look) or resumed: the holder's batch
    assert emulator.calls["create"] == 1
    recorded = read_intent(plain, key)
    assert recorded is not None and recorded.batch_id == made.id


def test_a_holder_whose_storage_cannot_say_if_it_was_taken_over_creates_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    _, claim_1, key = _keys(emulator)

    class Blind(LocalFileSystem):
        """Once the intent is written, answers everything but whether a next claim exists."""

        _block_type_slug = "blind-local-file-system"
        blind: bool = False

        def read_path(self, path: str) -> Any:
            if path == claim_1 and self.blind:
                raise ConnectionError("storage unreachable")
            return super().read_path(path)

        def write_path(self, path: str, content: bytes) -> Any:
            result = super().write_path(path, content)
            self.blind = self.blind or path.endswith("intent.json")
            return result

    with pytest.raises(ClaimLostError, match="could not say") as lost:
        _submission(emulator, Blind(basepath=str(tmp_path)), "run-a").run()
    assert lost.value.taken_over is True  # so the intent is left as it is, for a taker
    assert emulator.calls["create"] == 0
    intent = read_intent(LocalFileSystem(basepath=str(tmp_path)), key)
    assert intent is not None and intent.state == "pending"


def test_a_process_proc_does_not_show_is_not_taken_for_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import batchwork_prefect.orchestration.claims as claims

    me = this_process()
    assert me is not None
    # /proc mounted with hidepid, or another user's process: unreadable, not gone
    monkeypatch.setattr(claims, "_started", lambda pid: claims._UNKNOWN)
    assert is_gone(me.model_copy(update={"pid": 1, "started": 5})) is False
