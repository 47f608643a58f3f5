"""A webhook receiver on loopback: records each request and answers from a queue of statuses.

The `receiver` fixture (tests/conftest.py) serves one per test.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(ThreadingHTTPServer):
    """Records each request's (headers, body) and answers from a queue of statuses."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests: list[tuple[dict[str, str], bytes, str]] = []
        self.statuses: list[int] = []
        self.extra_headers: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/batch"

    def answer(self, *statuses: int, **headers: str) -> None:
        with self.lock:
            self.statuses.extend(statuses)
            self.extra_headers.update({k.replace("_", "-"): v for k, v in headers.items()})

    def record(self, headers: dict[str, str], body: bytes, path: str) -> int:
        with self.lock:
            self.requests.append((headers, body, path))
            return self.statuses.pop(0) if self.statuses else 200


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        status = self.server.record(dict(self.headers.items()), body, self.path)
        self.send_response(status)
        for name, value in self.server.extra_headers.items():
            self.send_header(name, value)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Silence per-request logging."""


@contextlib.contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A `Receiver` serving from a thread; shut down and closed on exit."""
    server = Receiver()
    # A short poll interval only makes shutdown() return sooner; nothing waits on it.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
