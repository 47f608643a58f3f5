"""Held responses: a ``hold_after_bytes`` fault parks a real response mid-body until released."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable

import httpx
import pytest

from batchwork_prefect.emulator import Emulator, Fault
from tests.emulator.emulator_helpers import BATCHES, HEADERS, create_n, request, results


class _Call(threading.Thread):
    """Runs ``work`` in a daemon thread, keeping its return value or the exception it raised."""

    def __init__(self, work: Callable[[], httpx.Response]) -> None:
        super().__init__(daemon=True)
        self._work = work
        self.outcome: httpx.Response | Exception | None = None

    def run(self) -> None:
        try:
            self.outcome = self._work()
        except Exception as exc:
            self.outcome = exc


def _response_of(call: _Call) -> httpx.Response:
    call.join(timeout=30)
    assert not call.is_alive()
    assert isinstance(call.outcome, httpx.Response), call.outcome
    return call.outcome


def test_held_create_is_stored_before_the_client_sees_a_body(
    emu: Emulator, client: httpx.Client
) -> None:
    emu.add_fault(Fault(route="create", hold_after_bytes=0))
    call = _Call(lambda: client.post(BATCHES, json={"requests": [request("a")]}))
    call.start()
    assert emu.wait_held()
    assert emu.held == 1
    assert emu.batches_created == 1
    with httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=10) as other:
        listed = other.get(BATCHES).json()["data"]
    assert len(listed) == 1
    assert call.is_alive()  # still waiting for the body
    assert emu.release() == 1
    response = _response_of(call)
    assert response.status_code == 200
    assert response.json()["id"] == listed[0]["id"]
    assert emu.held == 0 and emu.batches_created == 1


def test_held_results_stream_sends_a_prefix_then_the_rest(
    emu: Emulator, client: httpx.Client
) -> None:
    batch = create_n(client, 50)
    url = f"{BATCHES}/{batch['id']}/results"
    full = client.get(url).content
    emu.add_fault(Fault(route="results", hold_after_bytes=100))
    with client.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(full))
        assert emu.wait_held()
        chunks = response.iter_raw()
        prefix = b""
        while len(prefix) < 100:
            prefix += next(chunks)
        assert prefix == full[:100]
        assert emu.held == 1
        assert emu.release() == 1
        rest = b"".join(chunks)
    assert prefix + rest == full


def test_times_holds_concurrent_responses_errors_included(
    emu: Emulator, client: httpx.Client
) -> None:
    batch = create_n(client, 3)
    emu.add_fault(Fault(route="retrieve", hold_after_bytes=10, times=2))
    found = _Call(lambda: client.get(f"{BATCHES}/{batch['id']}"))
    found.start()
    assert emu.wait_held()
    assert not emu.wait_held(2, timeout=0.05)
    missing = _Call(lambda: client.get(f"{BATCHES}/msgbatch_missing"))
    missing.start()
    assert emu.wait_held(2)
    assert emu.release() == 2
    assert _response_of(found).json() == client.get(f"{BATCHES}/{batch['id']}").json()
    assert _response_of(missing).status_code == 404
    assert emu.faults_pending == 0 and emu.held == 0


def test_wait_held_times_out_with_nothing_held(emu: Emulator) -> None:
    assert emu.wait_held(timeout=0.05) is False
    assert emu.held == 0
    assert emu.release() == 0


def test_stop_releases_a_held_response() -> None:
    emu = Emulator(time_scale=0).start()
    emu.add_fault(Fault(route="create", hold_after_bytes=5))
    with httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=None) as http:
        call = _Call(lambda: http.post(BATCHES, json={"requests": [request("a")]}))
        call.start()
        assert emu.wait_held()
        emu.stop()
        call.join(timeout=60)
        assert not call.is_alive()
    assert isinstance(call.outcome, httpx.Response | httpx.TransportError), call.outcome
    assert emu.held == 0


def test_client_vanishing_during_a_hold_is_quiet(
    emu: Emulator, client: httpx.Client, capfd: pytest.CaptureFixture[str]
) -> None:
    batch = create_n(client, 2000)  # ~1 MB of results: the rest cannot fit in socket buffers
    url = f"{BATCHES}/{batch['id']}/results"
    emu.add_fault(Fault(route="results", hold_after_bytes=10))
    capfd.readouterr()
    before = set(threading.enumerate())
    host, _, port = emu.base_url.removeprefix("http://").partition(":")
    raw = socket.create_connection((host, int(port)), timeout=10)
    raw.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\nanthropic-version: 2023-06-01\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received or len(received.partition(b"\r\n\r\n")[2]) < 10:
        received += raw.recv(65536)
    assert received.startswith(b"HTTP/1.1 200 ")
    assert emu.wait_held()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()  # abortive close: the server's next write hits a reset connection
    handlers = [thread for thread in threading.enumerate() if thread not in before]
    assert handlers
    assert emu.release() == 1
    for handler in handlers:
        handler.join(timeout=30)
        assert not handler.is_alive()
    assert capfd.readouterr().err == ""
    assert len(results(client, batch["id"])) == 2000


def test_held_list_is_counted_and_later_calls_are_not_held(
    emu: Emulator, client: httpx.Client
) -> None:
    emu.add_fault(Fault(route="list", hold_after_bytes=1))
    call = _Call(lambda: client.get(BATCHES))
    call.start()
    assert emu.wait_held()
    assert emu.calls["list"] == 1
    emu.release()
    assert _response_of(call).json()["data"] == []
    assert client.get(BATCHES).status_code == 200
    assert emu.held == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"route": "results", "hold_after_bytes": -1},
        {"route": "results", "hold_after_bytes": 0, "truncate_after_bytes": 5},
        {"route": "list", "hold_after_bytes": 0, "status": 503},
        {"route": "list", "hold_after_bytes": 0, "body": b"x"},
        {"route": "list", "hold_after_bytes": 0, "retry_after": 1},
        {"route": "list", "hold_after_bytes": 0, "should_retry": True},
        {"route": "create", "hold_after_bytes": 0, "after_create": True},
    ],
)
def test_invalid_hold_combinations_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Fault(**kwargs)  # type: ignore[arg-type]


def test_valid_hold_fault() -> None:
    fault = Fault(route="results", hold_after_bytes=0, times=3)
    assert (fault.hold_after_bytes, fault.times) == (0, 3)
