"""Only one process creates a part: claims, their expiry and their take-over."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from prefect.filesystems import LocalFileSystem

from batchwork_prefect.core import build_parts
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.orchestration.claims import Claim
from batchwork_prefect.orchestration.persistence import claim_key, create_exclusive, part_ref
from batchwork_prefect.orchestration.submission import PartSubmission
from batchwork_prefect.providers.anthropic import AnthropicProvider
from tests.orchestration.claim_race import REQUESTS
from tests.support import API_KEY

REPO = Path(__file__).resolve().parents[2]


def test_two_processes_with_one_key_on_slow_storage_create_once(
    emulator: Emulator, tmp_path: Path
) -> None:
    barrier = tmp_path / "ready"
    barrier.mkdir()
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.orchestration.claim_race",
                emulator.base_url,
                str(tmp_path / "storage"),
                run_id,
                str(barrier),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run_id in ("run-a", "run-b")
    ]
    outputs = [racer.communicate(timeout=120) for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0], outputs
    batch_ids = {stdout.strip() for stdout, _ in outputs}
    assert emulator.calls["create"] == 1, outputs
    assert len(batch_ids) == 1 and emulator.batches_created == 1


class _Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def _submission(
    emulator: Emulator, storage: LocalFileSystem, run_id: str, **options: object
) -> tuple[PartSubmission, str]:
    provider = AnthropicProvider(api_key=API_KEY, base_url=emulator.base_url)
    built = build_parts(provider, "claude-opus-4-8", REQUESTS)
    key = claim_key("held", part_ref(built, 0), 0)
    submission = PartSubmission(
        provider, built, 0, scope="held", storage=storage, flow_run_id=run_id, **options
    )  # type: ignore[arg-type]
    return submission, key


def _hold(storage: LocalFileSystem, key: str, run_id: str, expires_in: timedelta) -> None:
    claim = Claim(holder="other", flow_run_id=run_id, expires_at=datetime.now(UTC) + expires_in)
    assert create_exclusive(storage, key, claim.model_dump_json().encode()) is True


@pytest.mark.parametrize(
    ("holder_run", "expires_in", "ended"),
    [
        ("run-old", timedelta(seconds=-1), False),  # expired: its holder crashed long ago
        ("run-me", timedelta(minutes=15), False),  # an earlier attempt of this very run
        ("run-gone", timedelta(minutes=15), True),  # the holder's run has ended
    ],
)
def test_a_stale_claim_is_taken_over_at_once(
    emulator: Emulator, tmp_path: Path, holder_run: str, expires_in: timedelta, ended: bool
) -> None:
    storage = LocalFileSystem(basepath=str(tmp_path))
    sleep = _Recorder()
    submission, key = _submission(
        emulator, storage, "run-me", run_ended=lambda run: ended and run == holder_run, sleep=sleep
    )
    _hold(storage, key, holder_run, expires_in)
    submission.run()
    assert emulator.calls["create"] == 1
    assert sleep.sleeps == []
    taken = orjson.loads(storage.read_path(key.replace("claim-0", "claim-1")))
    assert taken["flow_run_id"] == "run-me" and taken["released"] is True


def test_a_live_claim_is_waited_on_until_its_batch_is_recorded(
    emulator: Emulator, tmp_path: Path
) -> None:
    storage = LocalFileSystem(basepath=str(tmp_path))
    holder, key = _submission(emulator, storage, "run-holder")
    _hold(storage, key, "run-holder-live", timedelta(minutes=15))

    def finish_holders_create(seconds: float) -> None:
        # while we wait, the holder's create ends: its intent names the batch
        waits.append(seconds)
        if len(waits) == 2:
            storage.write_path(
                key,
                Claim(
                    holder="other",
                    flow_run_id="run-holder-live",
                    expires_at=datetime.now(UTC),
                    released=True,
                )
                .model_dump_json()
                .encode(),
            )
            # the holder process would have created; do it as that process would
            PartSubmission(
                holder_provider,
                holder._built,
                0,
                scope="held",
                storage=storage,
                flow_run_id="run-holder-live",
            )._create_recorded(None)

    waits: list[float] = []
    holder_provider = AnthropicProvider(api_key=API_KEY, base_url=emulator.base_url)
    waiter, _ = _submission(emulator, storage, "run-waiter", sleep=finish_holders_create)
    snapshot = waiter.run()
    assert len(waits) == 2  # it waited, polling
    assert emulator.calls["create"] == 1  # and resumed the holder's batch
    assert snapshot.request_counts.total == 2


def test_storage_without_an_atomic_create_still_works_and_says_so(
    emulator: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect.filesystems import RemoteFileSystem

    storage = RemoteFileSystem(basepath=f"memory://{tmp_path.name}")
    assert create_exclusive(storage, "probe.json", b"{}") is None
    submission, _ = _submission(emulator, storage, "run-plain")  # type: ignore[arg-type]
    with caplog.at_level("WARNING", logger="batchwork_prefect"):
        submission.run()
    assert emulator.calls["create"] == 1
    assert "no atomic create-if-absent" in caplog.text


class _ConflictingS3:
    """An s3fs stand-in whose conditional writes first meet AWS's 409 conflicts."""

    def __init__(self, conflicts: int, then: BaseException | None = None) -> None:
        self.conflicts = conflicts
        self.then = then
        self.calls = 0

    def pipe_file(self, path: str, data: bytes, mode: str = "overwrite") -> None:
        assert mode == "create"
        self.calls += 1
        if self.calls <= self.conflicts:
            raise OSError("conflict") from _BotoError("ConditionalRequestConflict")
        if self.then is not None:
            raise self.then


class _BotoError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


@pytest.mark.parametrize(
    ("then", "expected"),
    [(None, True), (OSError("taken"), False), (FileExistsError("taken"), False)],
)
def test_an_s3_write_that_races_another_is_asked_again(
    monkeypatch: pytest.MonkeyPatch, then: BaseException | None, expected: bool
) -> None:
    from prefect.filesystems import RemoteFileSystem

    if isinstance(then, OSError) and not isinstance(then, FileExistsError):
        then.__cause__ = _BotoError("PreconditionFailed")  # 412: someone holds it
    fake = _ConflictingS3(conflicts=2, then=then)
    monkeypatch.setattr(RemoteFileSystem, "filesystem", property(lambda self: fake))
    monkeypatch.setattr(
        "batchwork_prefect.orchestration.persistence.time.sleep", lambda seconds: None
    )
    storage = RemoteFileSystem(basepath="s3://bucket/results")
    assert create_exclusive(storage, "a/claim-0.json", b"{}") is expected
    assert fake.calls == 3


def test_a_local_claim_is_linked_into_place_whole(tmp_path: Path) -> None:
    storage = LocalFileSystem(basepath=str(tmp_path))
    assert create_exclusive(storage, "p/claim-0.json", b'{"holder": "x"}') is True
    assert [path.name for path in (tmp_path / "p").iterdir()] == ["claim-0.json"]
    assert (tmp_path / "p" / "claim-0.json").read_bytes() == b'{"holder": "x"}'
