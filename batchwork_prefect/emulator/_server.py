"""The HTTP/1.1 transport: a ``ThreadingHTTPServer`` whose handler delegates to ``App``."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from ._app import App
from ._responses import MAX_BODY_BYTES, Request, Response

WRITE_CHUNK = 1 << 20

_RequestType = socket.socket | tuple[bytes, socket.socket]


class EmulatorServer(ThreadingHTTPServer):
    """Threaded server that remembers open connections so ``close_connections`` can cut them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: App) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        """Remember an accepted connection."""
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        """Forget a finished connection."""
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down every open keep-alive connection (their handler threads then exit)."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def server_bind(self) -> None:
        """Bind without ``HTTPServer``'s reverse-DNS lookup (which can stall startup)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: _RequestType, client_address: Any) -> None:
        """Stay quiet about clients that vanish mid-request; report anything else."""
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "batchwork-emulator"

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._emulator().track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._emulator().untrack(self.connection)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, oversized headers...) as JSON errors."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9" or self.command is None:
            self.request_version = "HTTP/1.1"
        response = self._emulator().app.protocol_error(code, message or explain or "Bad request")
        with contextlib.suppress(OSError):
            self._write(replace(response, close=True))

    def log_message(self, format: str, *args: object) -> None:
        """Silence per-request logging."""

    def _emulator(self) -> EmulatorServer:
        return cast(EmulatorServer, self.server)

    def _serve(self, *, head: bool = False) -> None:
        try:
            body, oversize = self._read_body()
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = Request(self.command, self.path, headers, body, oversize)
            self._write(self._emulator().app.handle(request), head=head)
        except ValueError:  # unparseable chunked framing
            self.send_error(400, "Malformed chunked request body")
        except OSError:
            self.close_connection = True

    def _read_body(self) -> tuple[bytes, bool]:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            return b"", True
        return (self.rfile.read(length) if length > 0 else b""), False

    def _read_chunked(self) -> tuple[bytes, bool]:
        parts: list[bytes] = []
        size_total = 0
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts), False
            size_total += size
            if size_total > MAX_BODY_BYTES:
                return b"", True
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _write(self, response: Response, *, head: bool = False) -> None:
        if any(name == "date" for name, _ in response.headers):
            # an API that dates its answers by the emulated clock sends its own Date
            self.log_request(response.status)
            self.send_response_only(response.status)
            self.send_header("Server", self.version_string())
        else:
            self.send_response(response.status)
        self.send_header("content-type", response.content_type)
        self.send_header("content-length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        if response.close:
            self.send_header("connection", "close")
        if response.close or response.truncate_after is not None:
            self.close_connection = True
        self.end_headers()
        if head:
            return
        body = memoryview(response.body)
        if response.truncate_after is not None:
            body = body[: response.truncate_after]
        if response.hold_after is not None:
            self._send(body[: response.hold_after])
            self._emulator().app.holds.hold()
            body = body[response.hold_after :]
        self._send(body)

    def _send(self, body: memoryview) -> None:
        for start in range(0, len(body), WRITE_CHUNK):
            self.wfile.write(body[start : start + WRITE_CHUNK])
