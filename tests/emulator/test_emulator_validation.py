"""Create-time 400s (exact messages) and the version/auth checks."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator.emulator_helpers import BATCHES, create_n, error_of, request

PATTERN_MESSAGE = "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"

ENVELOPE_CASES: list[tuple[str, Any, str]] = [
    (
        "duplicate",
        {"requests": [request("dup"), request("ok"), request("dup")]},
        "requests: custom_id's must be unique within a batch. Duplicate custom_id found: dup",
    ),
    (
        "missing custom_id",
        {"requests": [{"params": request("x")["params"]}]},
        "requests.0.custom_id: Field required",
    ),
    (
        "too long",
        {"requests": [request("a" * 65)]},
        "requests.0.custom_id: String should have at most 64 characters",
    ),
    ("bad charset", {"requests": [request("has space")]}, PATTERN_MESSAGE),
    ("bad charset dot", {"requests": [request("a.b")]}, PATTERN_MESSAGE),
    (
        "empty custom_id",
        {"requests": [request("")]},
        "requests.0.custom_id: String should have at least 1 character",
    ),
    (
        "custom_id not a string",
        {"requests": [{"custom_id": 5, "params": {}}]},
        "requests.0.custom_id: Input should be a valid string",
    ),
    (
        "empty requests",
        {"requests": []},
        "requests: List should have at least 1 item after validation, not 0",
    ),
    ("missing requests", {}, "requests: Field required"),
    ("requests not a list", {"requests": {}}, "requests: Input should be a valid list"),
    ("body not an object", [1], "body: Input should be a valid dictionary"),
    (
        "entry not an object",
        {"requests": [request("a"), "x"]},
        "requests.1: Input should be a valid dictionary",
    ),
    (
        "missing params",
        {"requests": [request("a"), {"custom_id": "b"}]},
        "requests.1.params: Field required",
    ),
    (
        "params not an object",
        {"requests": [{"custom_id": "a", "params": []}]},
        "requests.0.params: Input should be a valid dictionary",
    ),
]


@pytest.mark.parametrize(
    ("payload", "message"),
    [case[1:] for case in ENVELOPE_CASES],
    ids=[case[0] for case in ENVELOPE_CASES],
)
def test_envelope_400(client: httpx.Client, emu: Emulator, payload: Any, message: str) -> None:
    response = client.post(BATCHES, json=payload)
    assert error_of(response) == (400, "invalid_request_error", message)
    assert emu.batches_created == 0
    assert emu.calls["create"] == 1


def test_custom_id_of_exactly_64_allowed_chars_is_fine(client: httpx.Client) -> None:
    response = client.post(BATCHES, json={"requests": [request("aZ0_-" + "x" * 59)]})
    assert response.status_code == 200


@pytest.mark.parametrize("body", [b"{not json", b"", b'{"requests": [}'])
def test_malformed_json(client: httpx.Client, body: bytes) -> None:
    response = client.post(BATCHES, content=body, headers={"content-type": "application/json"})
    status, error_type, message = error_of(response)
    assert (status, error_type) == (400, "invalid_request_error")
    assert message.startswith("The request body is not valid JSON: ")


def test_more_than_100000_requests(client: httpx.Client) -> None:
    entry = {"custom_id": "x", "params": {}}
    body = orjson.dumps({"requests": [entry] * 100_001})
    response = client.post(BATCHES, content=body)
    assert error_of(response) == (
        400,
        "invalid_request_error",
        "requests: List should have at most 100000 items after validation, not 100001",
    )


def test_missing_anthropic_version_is_400(emu: Emulator) -> None:
    response = httpx.get(emu.base_url + BATCHES)
    assert error_of(response) == (
        400,
        "invalid_request_error",
        "anthropic-version: header is required",
    )
    assert emu.calls["list"] == 1


def test_any_key_accepted_when_no_api_key_configured(emu: Emulator) -> None:
    response = httpx.get(emu.base_url + BATCHES, headers={"anthropic-version": "2023-06-01"})
    assert response.status_code == 200


@pytest.fixture
def keyed() -> Emulator:
    return Emulator(time_scale=0, api_key="sekrit")


@pytest.mark.parametrize(
    ("headers", "ok"),
    [
        ({"x-api-key": "sekrit"}, True),
        ({"authorization": "Bearer sekrit"}, True),
        ({"x-api-key": "wrong"}, False),
        ({"authorization": "Bearer wrong"}, False),
        ({}, False),
    ],
)
def test_api_key_check(keyed: Emulator, headers: dict[str, str], ok: bool) -> None:
    with keyed as emu:
        sent = {"anthropic-version": "2023-06-01", **headers}
        for method, path in (("GET", BATCHES), ("GET", f"{BATCHES}/msgbatch_x")):
            response = httpx.request(method, emu.base_url + path, headers=sent)
            if ok:
                assert response.status_code in (200, 404)
            else:
                assert error_of(response) == (401, "authentication_error", "invalid x-api-key")
        response = httpx.post(emu.base_url + BATCHES, headers=sent, json={"requests": []})
        assert response.status_code == (400 if ok else 401)
        assert emu.batches_created == 0


def test_request_id_header_on_every_response(emu: Emulator, client: httpx.Client) -> None:
    batch = create_n(client, 1)
    responses = [
        client.get(BATCHES),
        client.get(f"{BATCHES}/{batch['id']}"),
        client.get(f"{BATCHES}/{batch['id']}/results"),
        client.post(f"{BATCHES}/{batch['id']}/cancel"),
        client.delete(f"{BATCHES}/{batch['id']}"),
        client.get(f"{BATCHES}/{batch['id']}"),
        client.get("/nowhere"),
        client.post(BATCHES, content=b"nope"),
        httpx.get(emu.base_url + BATCHES),
    ]
    ids = [response.headers["request-id"] for response in responses]
    assert all(len(i) == 28 and i.startswith("req_") for i in ids)
    assert len(set(ids)) == len(ids)
    assert {r.status_code for r in responses} == {200, 400, 404}
