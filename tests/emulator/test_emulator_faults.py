"""Injected faults: statuses, retry headers, bodies, FIFO use, truncation, slow create."""

from __future__ import annotations

import httpx
import pytest

from batchwork_prefect.emulator import Emulator, Fault
from tests.emulator.emulator_helpers import BATCHES, HEADERS, create_n, error_of, request, results

STANDARD_TYPES = [
    (400, "invalid_request_error"),
    (401, "authentication_error"),
    (403, "permission_error"),
    (404, "not_found_error"),
    (408, "timeout_error"),
    (409, "conflict_error"),
    (413, "request_too_large"),
    (429, "rate_limit_error"),
    (500, "api_error"),
    (504, "timeout_error"),
    (529, "overloaded_error"),
]


@pytest.mark.parametrize(("status", "error_type"), STANDARD_TYPES)
def test_default_error_body_per_status(
    emu: Emulator, client: httpx.Client, status: int, error_type: str
) -> None:
    emu.add_fault(Fault(route="list", status=status))
    assert error_of(client.get(BATCHES))[:2] == (status, error_type)
    assert client.get(BATCHES).status_code == 200


def test_retry_headers(emu: Emulator, client: httpx.Client) -> None:
    emu.add_fault(Fault(route="retrieve", status=429, retry_after=7, retry_after_ms=1500.5))
    emu.add_fault(Fault(route="retrieve", status=529, should_retry=False))
    emu.add_fault(Fault(route="retrieve", status=500, should_retry=True, retry_after=0.25))
    first = client.get(f"{BATCHES}/msgbatch_x")
    assert first.status_code == 429
    assert first.headers["retry-after"] == "7"
    assert first.headers["retry-after-ms"] == "1500.5"
    assert "x-should-retry" not in first.headers
    second = client.get(f"{BATCHES}/msgbatch_x")
    assert second.status_code == 529
    assert second.headers["x-should-retry"] == "false"
    assert "retry-after" not in second.headers
    third = client.get(f"{BATCHES}/msgbatch_x")
    assert (third.status_code, third.headers["x-should-retry"]) == (500, "true")
    assert third.headers["retry-after"] == "0.25"
    assert client.get(f"{BATCHES}/msgbatch_x").status_code == 404
    assert emu.calls["retrieve"] == 4


def test_times_and_fifo_per_route(emu: Emulator, client: httpx.Client) -> None:
    emu.add_fault(Fault(route="list", status=503, times=2))
    emu.add_fault(Fault(route="list", status=429))
    emu.add_fault(Fault(route="retrieve", status=500))
    assert emu.faults_pending == 4
    statuses = [client.get(BATCHES).status_code for _ in range(4)]
    assert statuses == [503, 503, 429, 200]
    assert client.get(f"{BATCHES}/msgbatch_x").status_code == 500
    emu.add_fault(Fault(route="cancel"))
    emu.clear_faults()
    assert emu.faults_pending == 0


def test_fault_applies_before_auth_and_version_checks() -> None:
    with Emulator(time_scale=0, api_key="k") as emu:
        emu.add_fault(Fault(route="list", status=529))
        response = httpx.get(emu.base_url + BATCHES)
        assert error_of(response)[:2] == (529, "overloaded_error")
        assert httpx.get(emu.base_url + BATCHES).status_code == 401


def test_non_json_body(emu: Emulator, client: httpx.Client) -> None:
    html = b"<html><body>413 Request Entity Too Large</body></html>"
    emu.add_fault(Fault(route="create", status=413, body=html))
    response = client.post(BATCHES, json={"requests": [request("a")]})
    assert response.status_code == 413
    assert response.content == html
    assert response.headers["request-id"].startswith("req_")
    assert emu.batches_created == 0


def test_create_fault_creates_nothing(emu: Emulator, client: httpx.Client) -> None:
    emu.add_fault(Fault(route="create", status=500))
    assert client.post(BATCHES, json={"requests": [request("a")]}).status_code == 500
    assert emu.batches_created == 0
    assert client.get(BATCHES).json()["data"] == []
    assert emu.calls["create"] == 1


def test_after_create_fault_stores_then_lies(emu: Emulator, client: httpx.Client) -> None:
    emu.add_fault(Fault(route="create", status=504, after_create=True))
    response = client.post(BATCHES, json={"requests": [request("a")]})
    assert error_of(response)[:2] == (504, "timeout_error")
    assert emu.batches_created == 1
    listed = client.get(BATCHES).json()["data"]
    assert len(listed) == 1 and listed[0]["request_counts"]["succeeded"] == 1


def test_after_create_fault_with_invalid_body_is_plain_400(
    emu: Emulator, client: httpx.Client
) -> None:
    emu.add_fault(Fault(route="create", status=500, after_create=True))
    assert client.post(BATCHES, json={"requests": []}).status_code == 400
    assert emu.batches_created == 0
    assert emu.faults_pending == 0


def test_truncated_results_raise_protocol_error(emu: Emulator, client: httpx.Client) -> None:
    batch = create_n(client, 50)
    full = client.get(f"{BATCHES}/{batch['id']}/results").content
    emu.add_fault(Fault(route="results", truncate_after_bytes=100))
    with client.stream("GET", f"{BATCHES}/{batch['id']}/results") as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(len(full))
        with pytest.raises(httpx.RemoteProtocolError):
            response.read()
    assert len(results(client, batch["id"])) == 50


def test_truncation_does_not_touch_error_responses(emu: Emulator, client: httpx.Client) -> None:
    emu.add_fault(Fault(route="results", truncate_after_bytes=5))
    assert client.get(f"{BATCHES}/msgbatch_x/results").status_code == 404


def test_slow_create_times_out_client_but_batch_exists() -> None:
    with Emulator(time_scale=0, create_delay_seconds=60) as emu:
        with (
            httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=0.3) as http,
            pytest.raises(httpx.ReadTimeout),
        ):
            http.post(BATCHES, json={"requests": [request("a")]})
        emu.settings.create_delay_seconds = 0
        with httpx.Client(base_url=emu.base_url, headers=HEADERS) as http:
            listed = http.get(BATCHES).json()["data"]
        assert len(listed) == 1
        assert emu.batches_created == 1
    # leaving the block stops the emulator promptly despite the held create


@pytest.mark.parametrize(
    "kwargs",
    [
        {"route": "nope"},
        {"route": "list", "times": 0},
        {"route": "list", "status": 42},
        {"route": "list", "after_create": True},
        {"route": "results", "truncate_after_bytes": -1},
    ],
)
def test_invalid_faults_rejected(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Fault(**kwargs)  # type: ignore[arg-type]


def test_fault_is_frozen() -> None:
    fault = Fault(route="list")
    with pytest.raises(AttributeError):
        fault.status = 1  # type: ignore[misc]
