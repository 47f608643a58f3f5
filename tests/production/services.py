"""The services of the production shape, started by the tests themselves on loopback.

- `running_postgres`: `initdb` into a fresh directory under /tmp and `postgres` on a free
  loopback port (its unix socket in that directory too). PostgreSQL refuses to run as
  root, so when the tests run as root both run as the `postgres` system user (the data
  directory is chowned to it) via `Popen(user=, group=)`: `postgres` stays our own child.
- `running_moto`: `moto_server` (moto[server]), an in-memory S3 on a free loopback port.
- `running_proxy`: a reverse proxy in front of it that forwards every request unchanged
  (the Host header as sent; moto checks no signatures) and can delay the answers to
  GET/HEAD requests whose path matches a pattern: `proxy.delay = 0.5` slows the reads of
  submit intents and claims while it runs.

Every `running_*` context manager stops what it started, also when its body fails.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from harness import BIN, free_port, spawn, stop_process_group, tail, wait_until

# --- PostgreSQL -------------------------------------------------------------------------


def find_postgres_bin() -> Path | None:
    """The directory of `initdb` and `postgres`: on PATH, else Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


@dataclass
class Postgres:
    """A `postgres` server on loopback, trust authentication for the `postgres` role."""

    process: subprocess.Popen[bytes]
    port: int
    root: Path
    bin_dir: Path

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run `sql` with psql over TCP; the output unaligned, tuples only."""
        result = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database),
                *("-v", "ON_ERROR_STOP=1", "-At", "-c", sql),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql {sql!r} exited {result.returncode}: {result.stderr}")
        return result.stdout

    def create_database(self, name: str) -> None:
        self.psql(f'CREATE DATABASE "{name}"')

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"postgres exited with {self.process.returncode}:\n{tail(self.log_path)}"
            )
        result = subprocess.run(
            [
                str(self.bin_dir / "pg_isready"),
                *("-q", "-U", "postgres", "-h", "127.0.0.1", "-p", str(self.port)),
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
        )
        return result.returncode == 0

    def stop(self) -> None:
        """Fast shutdown (SIGINT: disconnect clients, no waiting); SIGKILL if it hangs."""
        stop_process_group(self.process, 30.0, first=signal.SIGINT)


def _as_postgres_user() -> dict[str, Any]:
    """`Popen` arguments that run a command as the `postgres` user when we are root."""
    if os.geteuid() != 0:
        return {}
    return {"user": "postgres", "group": "postgres", "extra_groups": []}


def _chown_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


def postgres_user_problem() -> str | None:
    """Why PostgreSQL cannot be started here (no `postgres` user as root), or None."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "running as root and there is no `postgres` system user to run PostgreSQL as"
    return None


@contextlib.contextmanager
def running_postgres(bin_dir: Path, *, timeout: float = 60.0) -> Iterator[Postgres]:
    """initdb a fresh cluster under /tmp, start `postgres` on loopback; stop and remove it.

    The directory is made under /tmp, not pytest's tmp dir: that one is private to root
    and the `postgres` user could not reach its data directory there."""
    root = Path(tempfile.mkdtemp(prefix="batchwork-pg-"))
    try:
        _chown_to_postgres(root)
        data, sockets = root / "data", root / "sockets"
        sockets.mkdir()
        _chown_to_postgres(sockets)
        initdb = subprocess.run(
            [
                str(bin_dir / "initdb"),
                *("-D", str(data), "-U", "postgres", "-A", "trust"),
                *("-E", "UTF8", "--locale=C", "--no-sync"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            cwd=root,
            **_as_postgres_user(),
        )
        if initdb.returncode != 0:
            raise RuntimeError(
                f"initdb exited {initdb.returncode}:\n{initdb.stdout}{initdb.stderr}"
            )
        for attempt in range(3):
            port = free_port()
            process = spawn(
                [
                    str(bin_dir / "postgres"),
                    *("-D", str(data), "-h", "127.0.0.1", "-p", str(port), "-k", str(sockets)),
                    # a throwaway database: durability off, it only has to be fast
                    *("-c", "fsync=off", "-c", "synchronous_commit=off"),
                    *("-c", "full_page_writes=off", "-c", "max_connections=200"),
                ],
                root / "postgres.log",
                env=os.environ,
                cwd=root,
                **_as_postgres_user(),
            )
            server = Postgres(process=process, port=port, root=root, bin_dir=bin_dir)
            try:
                wait_until(server.ready, timeout, interval=0.2, message="postgres to accept")
                break
            except RuntimeError:
                server.stop()
                if attempt == 2:  # the port was taken three times, or it cannot start
                    raise
            except BaseException:
                server.stop()
                raise
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- S3: moto and the delaying proxy ----------------------------------------------------


@dataclass
class MotoServer:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"moto_server exited {self.process.returncode}:\n{tail(self.log_path)}"
            )
        try:
            httpx.get(f"{self.url}/moto-api/", timeout=2)
        except httpx.HTTPError:
            return False
        return True

    def stop(self) -> None:
        stop_process_group(self.process)


@contextlib.contextmanager
def running_moto(log_dir: Path, *, timeout: float = 60.0) -> Iterator[MotoServer]:
    """`moto_server` on a free loopback port (in memory); stopped on exit."""
    log_path = log_dir / "moto.log"
    port = free_port()
    process = spawn(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        log_path,
        env={k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PREFECT"))},
        cwd=log_dir,
    )
    moto = MotoServer(process=process, port=port, log_path=log_path)
    try:
        wait_until(moto.up, timeout, interval=0.2, message=lambda: f"moto\n{tail(log_path)}")
        yield moto
    finally:
        moto.stop()


def create_bucket(endpoint_url: str, bucket: str) -> None:
    """Create `bucket` on the S3 endpoint (moto: any key and secret do)."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)


_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "expect",  # answered here (BaseHTTPRequestHandler sends 100 Continue); body is read
    }
)

DEFAULT_SLOW_PATHS = r"(?:intent\.json|claim[^/]*)$"
"""The reads the proxy can slow down: submit intents and claim files."""


@dataclass
class DelayingProxy:
    """A reverse proxy to `upstream` (moto) that can delay matching GET/HEAD answers.

    `delay` (seconds) and `pattern` (a regex searched in the URL path) can be changed
    while it runs. A delayed request is forwarded at once and its answer held back for
    `delay`: the reader gets the object as it was when it asked, `delay` later, as over a
    slow link. `meet(parties, pattern)` makes the first `parties` reads of each path that
    matches `pattern` wait for each other and go upstream together (two processes then read
    the same object in the same state at the same moment).
    Counters: `requests`, `delayed`, `met` (reads that went upstream together), and
    `writes` (PUTs per matching path).
    """

    upstream: str
    delay: float = 0.0
    pattern: re.Pattern[str] = field(default_factory=lambda: re.compile(DEFAULT_SLOW_PATHS))
    requests: int = 0
    delayed: int = 0
    writes: dict[str, int] = field(default_factory=dict)
    """PUTs per path that matches `pattern` (e.g. how many times an intent was written)."""
    met: int = 0
    _meet: tuple[re.Pattern[str], int, float] | None = None
    _meetings: dict[str, tuple[threading.Barrier, int]] = field(default_factory=dict)
    _met_paths: set[str] = field(default_factory=set)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DelayingProxy:
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="s3-delaying-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def reset(self) -> None:
        """No delay, the default pattern, no meetings, counters at zero."""
        with self._lock:
            self.delay = 0.0
            self.pattern = re.compile(DEFAULT_SLOW_PATHS)
            self.requests = self.delayed = self.met = 0
            self.writes = {}
            self._meet = None
            waiting = [barrier for barrier, _ in self._meetings.values()]
            self._meetings, self._met_paths = {}, set()
        for barrier in waiting:
            barrier.abort()  # nobody stays held

    def meet(self, parties: int, pattern: str = r"intent\.json$", timeout: float = 10.0) -> None:
        """From now on, hold the first read (GET/HEAD) of each path matching `pattern` until
        `parties` reads of that path arrived (at most `timeout` s), then send them upstream
        together; later reads of a path pass."""
        with self._lock:
            self._meet = (re.compile(pattern), parties, timeout)

    def _count(self, method: str, path: str) -> tuple[float, threading.Barrier | None]:
        """Count a request; the delay its answer gets and the meeting it waits for."""
        with self._lock:
            self.requests += 1
            barrier = self._seat(path) if method in ("GET", "HEAD") else None
            if not self.pattern.search(path):
                return 0.0, barrier
            if method == "PUT":
                self.writes[path] = self.writes.get(path, 0) + 1
            if method not in ("GET", "HEAD"):
                return 0.0, barrier
            if self.delay > 0:
                self.delayed += 1
            return self.delay, barrier

    def _seat(self, path: str) -> threading.Barrier | None:
        """A seat at the meeting for `path` (under the lock), or None."""
        if self._meet is None or path in self._met_paths:
            return None
        pattern, parties, timeout = self._meet
        if not pattern.search(path):
            return None
        barrier, seats = self._meetings.get(
            path, (threading.Barrier(parties, timeout=timeout), parties)
        )
        self._meetings[path] = (barrier, seats - 1)
        if seats - 1 == 0:
            self._met_paths.add(path)  # everyone is seated: later reads pass
        return barrier

    def _wait_together(self, path: str, barrier: threading.Barrier) -> None:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            with self._lock:  # nobody came in time: this path's meeting is over
                self._met_paths.add(path)
            return
        with self._lock:
            self.met += 1


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: DelayingProxy
    protocol_version = "HTTP/1.1"  # keep-alive, as s3fs's aiohttp expects

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self) -> None:
        method = self.command
        body = self._body()
        path = urlsplit(self.path).path
        delay, barrier = self.owner._count(method, path)
        if barrier is not None:
            self.owner._wait_together(path, barrier)
        target = urlsplit(self.owner.upstream)
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        try:
            upstream.putrequest(method, self.path, skip_host=True, skip_accept_encoding=True)
            for key, value in self.headers.items():
                if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                    upstream.putheader(key, value)
            if body or method in ("PUT", "POST"):
                upstream.putheader("Content-Length", str(len(body)))
            upstream.endheaders(body or None)
            response = upstream.getresponse()
            data = response.read()
            headers = response.getheaders()
        finally:
            upstream.close()
        if delay:
            time.sleep(delay)
        self.send_response_only(response.status, response.reason)
        for key, value in headers:
            if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        if method == "HEAD":
            length = response.getheader("Content-Length")
            if length is not None:
                self.send_header("Content-Length", length)
        elif response.status not in (204, 304) and response.status >= 200:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD" and data:
            self.wfile.write(data)

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _forward


@contextlib.contextmanager
def running_proxy(upstream: str) -> Iterator[DelayingProxy]:
    proxy = DelayingProxy(upstream=upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()
