"""Claims: which process may create a part now, held by a lease its holder keeps renewing.

A claim is a file created only if absent (`create_exclusive`), so exactly one process holds
a generation. It holds for a short *lease* (`claim_lease()`, default 60 s) that a thread of
the holder renews while the holder lives, whatever the create takes. A holder killed with
nobody watching (a plain script, no worker, no automation) stops renewing, so its claim is
free within one lease; on the same machine it is free at once, since its process is seen
to be gone (`ProcessId`).

A holder that cannot renew (its storage unreachable, the process paused) stops trusting its
claim a quarter lease before others may take it, and creates nothing after that
(`ClaimLostError`). A taker creates the next generation and only then reads the intent; the
holder writes the intent and only then checks that no next generation exists. One of the
two sees the other, so a taker never creates blindly over a holder's create in flight: it
finds the intent pending and reconciles it instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from prefect.filesystems import WritableFileSystem
from pydantic import BaseModel, ValidationError

from batchwork_prefect.errors import ClaimLostError, ConfigurationError
from batchwork_prefect.orchestration.persistence import read_optional, replace_whole

LEASE_ENV = "BATCHWORK_CLAIM_LEASE_SECONDS"
DEFAULT_LEASE = timedelta(seconds=60)
_log = logging.getLogger("batchwork_prefect")


def claim_lease() -> timedelta:
    """How long a claim holds without a renewal: `BATCHWORK_CLAIM_LEASE_SECONDS`, else 60 s."""
    raw = os.environ.get(LEASE_ENV)
    if raw is None:
        return DEFAULT_LEASE
    try:
        seconds = float(raw)
    except ValueError:
        seconds = 0.0
    if not 1 <= seconds <= 3600:
        raise ConfigurationError(
            f"{LEASE_ENV}={raw!r} must be a number of seconds from 1 to 3600 (default 60)"
        )
    return timedelta(seconds=seconds)


class ProcessId(BaseModel):
    """One process on one machine: its kernel's boot, its pid namespace, pid and start time.

    The start time tells a reused pid apart; the namespace keeps containers apart.
    """

    namespace: str
    pid: int
    started: int


_UNKNOWN = -1
"""A process /proc will not show (hidepid, another user's): alive as far as anyone knows."""


def _started(pid: int | str) -> int | None:
    """The process's start time in clock ticks since boot; None when it is gone, `_UNKNOWN`
    when /proc does not let this process see it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return _UNKNOWN
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19]) if fields[0] not in ("Z", "X") else None


def lease_clock() -> float:
    """Seconds on a clock that never steps back and counts a machine's sleep (the wall clock
    can step back; the monotonic clock stops while the machine sleeps)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME) if _BOOTTIME else time.monotonic()


_BOOTTIME = hasattr(time, "CLOCK_BOOTTIME")


@cache
def _namespace() -> str | None:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return None  # not Linux: only the lease tells


def this_process() -> ProcessId | None:
    """This process, where /proc can tell it apart; else None.

    Its pid is the one /proc shows (in a pid namespace without its own /proc, not getpid()).
    """
    namespace, started = _namespace(), _started("self")
    if namespace is None or started is None or started == _UNKNOWN:
        return None
    return ProcessId(namespace=namespace, pid=int(os.readlink("/proc/self")), started=started)


def is_gone(process: ProcessId | None) -> bool:
    """Whether `process` is known to have ended: only a process of this machine can be."""
    if process is None or process.namespace != _namespace():
        return False
    started = _started(process.pid)
    return started != _UNKNOWN and started != process.started


class Claim(BaseModel):
    """Who may create a part now: one process of one flow run, until `expires_at`."""

    holder: str
    flow_run_id: str | None
    expires_at: datetime
    released: bool = False
    process: ProcessId | None = None


RunEnded = Callable[[str], bool]
"""Whether the flow run with this id has ended (its claims are free)."""


def is_free(
    claim: Claim, *, now: datetime, own_run: str | None, run_ended: RunEnded | None
) -> bool:
    """Whether another process may take `claim` over now."""
    if claim.released or claim.expires_at <= now or is_gone(claim.process):
        return True
    if claim.flow_run_id is not None and claim.flow_run_id == own_run:
        return True  # an earlier attempt of this very run: it is dead
    if claim.flow_run_id is not None and run_ended is not None:
        return run_ended(claim.flow_run_id)
    return False


def read_claim(storage: WritableFileSystem, key: str) -> Claim | None:
    """The claim at `key`; one that does not parse counts as released (it is never torn:
    claims are written whole), None when there is none."""
    data = read_optional(storage, key)
    if data is None:
        return None
    try:
        return Claim.model_validate_json(data)
    except ValidationError:
        return Claim(holder="", flow_run_id=None, expires_at=datetime.now(UTC), released=True)


class Lease:
    """A claim this process holds, renewed every quarter lease by a thread until released.

    `check()` before each step that must not happen without the claim: it raises
    `ClaimLostError` once the lease can no longer be trusted or a next generation exists.
    """

    def __init__(
        self,
        storage: WritableFileSystem,
        key: str,
        successor_key: str,
        *,
        flow_run_id: str | None,
        lease: timedelta,
        what: str,
    ) -> None:
        self._storage = storage
        self._key = key
        self._successor_key = successor_key
        self._flow_run_id = flow_run_id
        self._lease = lease
        self._what = what
        self._holder = uuid.uuid4().hex
        self._process = this_process()
        self._stop = threading.Event()
        self._trusted_until = lease_clock()  # on `lease_clock()`: trusted until then
        self._lost: str | None = None
        self._taken_over = False
        self._thread: threading.Thread | None = None

    def claim(self, *, released: bool = False) -> bytes:
        """The claim as this holder writes it now: held for one more lease."""
        expires = datetime.now(UTC) + self._lease
        return (
            Claim(
                holder=self._holder,
                flow_run_id=self._flow_run_id,
                expires_at=expires,
                released=released,
                process=self._process,
            )
            .model_dump_json()
            .encode()
        )

    def start(self, written_at: float) -> None:
        """Begin renewing a claim first written at `written_at` (on `lease_clock()`)."""
        self._trusted_until = written_at + self._trust
        self._thread = threading.Thread(target=self._renew, name="batchwork-claim", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(self._lease.total_seconds() / 4):
            started = lease_clock()
            try:
                if read_optional(self._storage, self._successor_key) is not None:
                    self._lost, self._taken_over = "another process took it over", True
                    return
                replace_whole(self._storage, self._key, self.claim())
            except Exception as exc:  # storage unreachable: keep trying while trusted
                _log.warning("Could not renew the claim on %s: %s", self._what, exc)
                continue
            self._trusted_until = started + self._trust

    @property
    def _trust(self) -> float:
        """How long after a renewal is written the holder trusts it: a quarter lease less
        than others wait, for clocks apart and a slow write."""
        return self._lease.total_seconds() * 0.75

    def check(self) -> None:
        """Raise `ClaimLostError` unless this process still holds the claim for sure."""
        if self._lost is None and lease_clock() >= self._trusted_until:
            self._lost = (
                f"it was not renewed for {self._trust:.0f} s "
                "(storage unreachable, or the process was paused)"
            )
        if self._lost is None or not self._taken_over:
            self._look_for_a_successor()
        if self._lost is not None:
            raise ClaimLostError(self._what, self._lost, taken_over=self._taken_over)

    def _look_for_a_successor(self) -> None:
        """Whether a next generation exists; a storage that cannot tell, after a few tries
        while the claim is trusted, counts as one (nothing is then written over)."""
        for attempt in range(3):
            try:
                found = read_optional(self._storage, self._successor_key) is not None
            except Exception as exc:  # an outage: ask again while the claim holds
                if attempt < 2 and lease_clock() < self._trusted_until:
                    self._stop.wait(0.5)
                    continue
                self._lost = f"the storage could not say whether another run took it ({exc})"
                self._taken_over = True
                return
            if found:
                self._lost, self._taken_over = "another process took it over", True
            return

    def release(self) -> None:
        """Stop renewing and mark the claim released (unless it was lost to another)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._lost is None:
            with contextlib.suppress(Exception):  # an unreleased claim lapses within a lease
                replace_whole(self._storage, self._key, self.claim(released=True))
