"""The public ``Emulator``: configuration, lifecycle and test hooks around the server."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ._app import App
from ._clock import EmulatedClock
from ._faults import Fault
from ._server import EmulatorServer
from ._settings import Settings
from ._table import API_NAMES, APIS

POLL_INTERVAL = 0.01


class Emulator:
    """Local emulator of Anthropic's Message Batches and OpenAI's Batch HTTP APIs on a
    loopback port.

    Use as a context manager (or ``start()``/``stop()``); point Anthropic clients at
    ``base_url`` and OpenAI clients at ``openai_base_url`` (``base_url`` + ``/v1``); any
    mounted API's clients at ``base_url_for(name)`` (Gemini's: ``base_url`` + ``/gemini``).
    ``time_scale`` is emulated seconds per real second (0 freezes time so only ``advance()``
    moves it); ``processing_seconds``/``cancel_seconds`` are emulated. The full behaviour
    is specified in docs/emulator.md.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        processing_seconds: float = 0.0,
        gradual_counts: bool = False,
        cancel_seconds: float = 0.0,
        finalizing_seconds: float = 0.0,
        poll_retry_after: int | None = None,
        time_scale: float = 1.0,
        create_delay_seconds: float = 0.0,
        results_origin: str | None = None,
        seed: int | None = None,
        reply_text: Callable[[dict[str, Any]], str] | None = None,
        reply_content: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None,
        reply_usage: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.settings = Settings(
            api_key=api_key,
            processing_seconds=processing_seconds,
            gradual_counts=gradual_counts,
            cancel_seconds=cancel_seconds,
            finalizing_seconds=finalizing_seconds,
            poll_retry_after=poll_retry_after,
            create_delay_seconds=create_delay_seconds,
            results_origin=results_origin,
            seed=0 if seed is None else seed,
            # unseeded, ids of their own: two emulators (the demo twice, a second terminal)
            # never give the same batch ids, which a record of one would take for the other's
            id_salt=os.urandom(8).hex() if seed is None else "",
            reply_text=reply_text,
            reply_content=reply_content,
            reply_usage=reply_usage,
        )
        self.clock = EmulatedClock(time_scale)
        self._stopping = threading.Event()
        self._app = App(self.settings, self.clock, self._stopping)
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind the port and serve from a daemon thread; returns ``self``."""
        if self._server is not None:
            return self
        if self._stopping.is_set():
            raise RuntimeError("a stopped Emulator cannot be restarted; create a new one")
        server = EmulatorServer((self.host, self.port), self._app)
        bound_host, bound_port = server.server_address[:2]
        self._base_url = f"http://{_url_host(str(bound_host))}:{bound_port}"
        self._app.serve_at(self._base_url)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"batches-emulator-{bound_port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release delayed creates and held responses, cut connections."""
        self._stopping.set()
        self._app.holds.close()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()

    def serve_forever(self) -> None:
        """Serve until ``stop()`` (from another thread) or ``KeyboardInterrupt``."""
        self.start()
        try:
            while not self._stopping.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # observation & control -------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://<host>:<port>`` without a trailing slash (after ``start()``)."""
        if self._base_url is None:
            raise RuntimeError("Emulator not started")
        return self._base_url

    @property
    def openai_base_url(self) -> str:
        """``base_url`` + ``/v1``: the ``base_url`` an OpenAI client takes."""
        return self.base_url_for("openai")

    def base_url_for(self, api: str) -> str:
        """The base URL a client of ``api`` (a mounted API's name, e.g. ``openai``) takes:
        ``base_url`` plus what the provider's own base URL has after its host."""
        for mounted in APIS:
            if mounted.wire.name == api:
                return self.base_url + mounted.base_path
        raise ValueError(f"api must be one of {', '.join(API_NAMES)}, not {api!r}")

    @property
    def calls(self) -> Counter[str]:
        """Live per-route request counts (``create``, ``list``, ``retrieve``, ``cancel``,
        ``delete``, ``results``; ``openai.files.create``/``.retrieve``/``.content``/
        ``.delete``, ``openai.batches.create``/``.retrieve``/``.list``/``.cancel``;
        ``gemini.batches.*`` and ``gemini.files.*`` (docs/emulator.md); unmatched paths
        count as ``unknown``)."""
        return self._app.calls

    @property
    def batches_created(self) -> int:
        """Batches actually stored by creates of either API (including ``after_create``
        faults)."""
        return self._app.batches_created()

    @property
    def requests_received(self) -> list[tuple[str, dict[str, str]]]:
        """The last 1000 requests as ``(route, lower-cased headers)``, oldest first."""
        return self._app.received_list()

    def submissions(self, custom_id: str, api: str = "anthropic") -> int:
        """How many stored batches of ``api`` (a mounted API's name: ``anthropic``,
        ``openai``, ...) included ``custom_id``: what a marker's ``:x<N>`` count is
        compared with."""
        handler = self._app.handlers.get(api)
        if handler is None:
            raise ValueError(f"api must be one of {', '.join(API_NAMES)}, not {api!r}")
        return handler.submissions.count(custom_id)

    def advance(self, seconds: float) -> None:
        """Move the emulated clock forward ``seconds``."""
        self.clock.advance(seconds)

    def now(self) -> float:
        """Current emulated time, in seconds since the emulator was built."""
        return self.clock.now()

    def add_fault(self, fault: Fault) -> None:
        """Queue ``fault`` (FIFO per route)."""
        self._app.faults.add(fault)

    def clear_faults(self) -> None:
        """Drop all queued faults."""
        self._app.faults.clear()

    @property
    def faults_pending(self) -> int:
        """Fault uses still queued."""
        return self._app.faults.pending()

    @property
    def held(self) -> int:
        """Responses currently held by ``hold_after_bytes`` faults."""
        return self._app.holds.held

    def wait_held(self, count: int = 1, timeout: float = 30.0) -> bool:
        """Block until at least ``count`` responses are held at once; ``False`` on timeout."""
        return self._app.holds.wait_held(count, timeout)

    def release(self) -> int:
        """Let every held response finish; returns how many were released."""
        return self._app.holds.release()

    def reset_calls(self) -> None:
        """Zero ``calls`` and clear ``requests_received``."""
        self._app.reset_calls()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
