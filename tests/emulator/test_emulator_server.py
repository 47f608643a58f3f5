"""Transport behaviour: lifecycle, keep-alive, chunked and oversized bodies."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import orjson
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator.emulator_helpers import BATCHES, HEADERS, request


def test_base_url_shape_and_requires_start() -> None:
    emu = Emulator()
    with pytest.raises(RuntimeError):
        _ = emu.base_url
    with emu:
        host, _, port = emu.base_url.removeprefix("http://").partition(":")
        assert host == "127.0.0.1" and int(port) > 0
        assert not emu.base_url.endswith("/")
    with pytest.raises(RuntimeError):
        emu.start()


def test_stop_is_idempotent_and_refuses_new_connections() -> None:
    emu = Emulator().start()
    url = emu.base_url
    emu.stop()
    emu.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + BATCHES, headers=HEADERS)


def test_keep_alive_reuses_one_connection_and_stop_cuts_it(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.base_url, headers=HEADERS) as http:
        peers = set()
        for _ in range(5):
            response = http.get(BATCHES)
            assert response.status_code == 200
            stream = response.extensions["network_stream"]
            peers.add(stream.get_extra_info("client_addr"))
        assert len(peers) == 1
        emu.stop()
        with pytest.raises(httpx.TransportError):
            http.get(BATCHES)


def test_serve_forever_returns_when_stopped() -> None:
    emu = Emulator().start()
    runner = threading.Thread(target=emu.serve_forever)
    runner.start()
    assert httpx.get(emu.base_url + BATCHES, headers=HEADERS).status_code == 200
    emu.stop()
    runner.join(timeout=10)
    assert not runner.is_alive()


def _chunks(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), 7):
        yield data[start : start + 7]


def test_chunked_request_body(client: httpx.Client) -> None:
    body = orjson.dumps({"requests": [request("chunky")]})
    response = client.post(BATCHES, content=_chunks(body))
    assert response.status_code == 200, response.text


def _raw_exchange(emu: Emulator, head: bytes) -> bytes:
    host, _, port = emu.base_url.removeprefix("http://").partition(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(head)
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
    return received


def test_oversized_body_is_413_and_connection_closes(emu: Emulator) -> None:
    head = (
        b"POST /v1/messages/batches HTTP/1.1\r\nHost: x\r\nanthropic-version: 2023-06-01\r\n"
        b"content-type: application/json\r\ncontent-length: 300000000\r\n\r\n"
    )
    received = _raw_exchange(emu, head)
    status_line, _, rest = received.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"
    assert b"request_too_large" in rest
    assert b"connection: close" in rest.lower()
    assert emu.batches_created == 0


def test_two_emulators_are_independent() -> None:
    with Emulator(time_scale=0) as first, Emulator(time_scale=0) as second:
        httpx.post(first.base_url + BATCHES, headers=HEADERS, json={"requests": [request("a")]})
        assert first.batches_created == 1 and second.batches_created == 0
        assert first.base_url != second.base_url


def test_malformed_request_line_gets_json_error_with_request_id(emu: Emulator) -> None:
    received = _raw_exchange(emu, b"GARBAGE\r\n\r\n")
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"request-id: req_" in head
    assert orjson.loads(body)["error"]["type"] == "invalid_request_error"
    assert emu.calls["unknown"] == 1


def test_head_and_options_get_404_with_request_id(emu: Emulator) -> None:
    head = httpx.head(emu.base_url + BATCHES, headers=HEADERS)
    options = httpx.options(emu.base_url + BATCHES, headers=HEADERS)
    assert head.status_code == options.status_code == 404
    assert head.content == b""
    assert head.headers["request-id"].startswith("req_")
    assert options.json()["error"]["type"] == "not_found_error"


def test_malformed_chunked_body_is_400(emu: Emulator) -> None:
    head = (
        b"POST /v1/messages/batches HTTP/1.1\r\nHost: x\r\nanthropic-version: 2023-06-01\r\n"
        b"transfer-encoding: chunked\r\n\r\nZZ\r\n"
    )
    assert _raw_exchange(emu, head).startswith(b"HTTP/1.1 400 ")
    assert emu.batches_created == 0
