"""Each route's happy path and its route-specific errors."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx

from batchwork_prefect.emulator import Emulator
from tests.emulator.emulator_helpers import (
    BATCH_ID_RE,
    BATCH_KEYS,
    BATCHES,
    HEADERS,
    TIMESTAMP_RE,
    create,
    create_n,
    error_of,
    request,
    results,
    retrieve,
)


def _parse(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")


def test_create_returns_fresh_message_batch(client: httpx.Client, emu: Emulator) -> None:
    batch = create(client, [request("a"), request("b")])
    assert set(batch) == BATCH_KEYS
    assert BATCH_ID_RE.fullmatch(batch["id"])
    assert batch["type"] == "message_batch"
    assert batch["processing_status"] == "in_progress"
    assert batch["request_counts"] == {
        "processing": 2,
        "succeeded": 0,
        "errored": 0,
        "canceled": 0,
        "expired": 0,
    }
    for key in ("ended_at", "archived_at", "cancel_initiated_at", "results_url"):
        assert batch[key] is None
    assert TIMESTAMP_RE.fullmatch(batch["created_at"])
    assert _parse(batch["expires_at"]) - _parse(batch["created_at"]) == timedelta(hours=24)
    assert emu.batches_created == 1


def test_retrieve_after_processing_is_ended(client: httpx.Client) -> None:
    batch = create_n(client, 3)
    got = retrieve(client, batch["id"])
    assert set(got) == BATCH_KEYS
    assert got["processing_status"] == "ended"
    assert got["request_counts"]["succeeded"] == 3
    assert TIMESTAMP_RE.fullmatch(got["ended_at"])
    assert got["results_url"].endswith(f"{BATCHES}/{batch['id']}/results")


def test_retrieve_unknown_batch_is_404(client: httpx.Client) -> None:
    response = client.get(f"{BATCHES}/msgbatch_nope")
    assert error_of(response) == (404, "not_found_error", "Message Batch msgbatch_nope not found.")


def test_unknown_path_is_404_json(client: httpx.Client, emu: Emulator) -> None:
    for method, path in (("GET", "/v1/nothing"), ("PUT", BATCHES), ("GET", f"{BATCHES}/x/y")):
        status, error_type, _ = error_of(client.request(method, path))
        assert (status, error_type) == (404, "not_found_error")
    assert emu.calls["unknown"] == 3


def test_beta_query_flag_is_accepted(client: httpx.Client) -> None:
    response = client.post(f"{BATCHES}?beta=true", json={"requests": [request("a")]})
    assert response.status_code == 200
    batch_id = response.json()["id"]
    assert client.get(f"{BATCHES}/{batch_id}?beta=true").status_code == 200
    assert client.get(f"{BATCHES}/{batch_id}/results?beta=true").status_code == 200
    assert client.get(f"{BATCHES}?beta=true&limit=1").json()["data"][0]["id"] == batch_id


def test_delete_in_progress_is_400_then_ok_once_ended(emu: Emulator, client: httpx.Client) -> None:
    emu.settings.processing_seconds = 60
    batch = create_n(client, 1)
    response = client.delete(f"{BATCHES}/{batch['id']}")
    assert error_of(response) == (
        400,
        "invalid_request_error",
        "In progress batches cannot be deleted. Consider canceling the batch instead.",
    )
    emu.advance(60)
    response = client.delete(f"{BATCHES}/{batch['id']}")
    assert response.status_code == 200
    assert response.json() == {"id": batch["id"], "type": "message_batch_deleted"}
    assert client.get(f"{BATCHES}/{batch['id']}").status_code == 404
    assert client.delete(f"{BATCHES}/{batch['id']}").status_code == 404


def test_results_404_until_ended(emu: Emulator, client: httpx.Client) -> None:
    emu.settings.processing_seconds = 10
    batch = create_n(client, 2)
    response = client.get(f"{BATCHES}/{batch['id']}/results")
    assert error_of(response) == (
        404,
        "not_found_error",
        f"Message Batch {batch['id']} has no available results.",
    )
    emu.advance(10)
    assert set(results(client, batch["id"])) == {"r0", "r1"}
    missing = client.get(f"{BATCHES}/msgbatch_missing/results")
    assert error_of(missing)[:2] == (404, "not_found_error")


def test_results_are_shuffled_deterministically_by_seed() -> None:
    orders = []
    for seed in (7, 7, 8):
        with (
            Emulator(time_scale=0, seed=seed) as emu,
            httpx.Client(base_url=emu.base_url, headers=HEADERS) as http,
        ):
            batch = create_n(http, 40)
            body = http.get(f"{BATCHES}/{batch['id']}/results").content
            orders.append([line.split(b'"')[3] for line in body.splitlines()])
    in_order = [f"r{i}".encode() for i in range(40)]
    assert orders[0] == orders[1]
    assert orders[0] != in_order
    assert orders[0] != orders[2]
    assert sorted(orders[0]) == sorted(in_order)


def test_retry_after_hint_only_while_in_progress() -> None:
    with (
        Emulator(time_scale=0, processing_seconds=30, poll_retry_after=10) as emu,
        httpx.Client(base_url=emu.base_url, headers=HEADERS) as http,
    ):
        batch = create_n(http, 1)
        assert "retry-after" not in http.post(BATCHES, json={"requests": [request("x")]}).headers
        assert http.get(f"{BATCHES}/{batch['id']}").headers["retry-after"] == "10"
        emu.advance(30)
        assert "retry-after" not in http.get(f"{BATCHES}/{batch['id']}").headers


def test_no_retry_after_by_default(emu: Emulator, client: httpx.Client) -> None:
    emu.settings.processing_seconds = 30
    batch = create_n(client, 1)
    assert "retry-after" not in client.get(f"{BATCHES}/{batch['id']}").headers


def test_results_origin_is_used_in_results_url() -> None:
    origin = "http://127.0.0.2:9999"
    with (
        Emulator(time_scale=0, results_origin=origin) as emu,
        httpx.Client(base_url=emu.base_url, headers=HEADERS) as http,
    ):
        batch = create_n(http, 1)
        url = retrieve(http, batch["id"])["results_url"]
        assert url == f"{origin}{BATCHES}/{batch['id']}/results"


def test_results_url_defaults_to_own_base_url(emu: Emulator, client: httpx.Client) -> None:
    batch = create_n(client, 1)
    url = retrieve(client, batch["id"])["results_url"]
    assert url == f"{emu.base_url}{BATCHES}/{batch['id']}/results"
    assert httpx.get(url, headers=HEADERS).status_code == 200


def test_calls_counter_and_reset(emu: Emulator, client: httpx.Client) -> None:
    batch = create_n(client, 1)
    client.get(BATCHES)
    client.get(f"{BATCHES}/{batch['id']}")
    client.get(f"{BATCHES}/{batch['id']}/results")
    client.delete(f"{BATCHES}/{batch['id']}")
    client.post(f"{BATCHES}/{batch['id']}/cancel")
    assert dict(emu.calls) == {
        "create": 1,
        "list": 1,
        "retrieve": 1,
        "results": 1,
        "delete": 1,
        "cancel": 1,
    }
    assert [route for route, _ in emu.requests_received][:2] == ["create", "list"]
    emu.reset_calls()
    assert sum(emu.calls.values()) == 0
    assert emu.requests_received == []


def test_requests_received_records_lowercased_headers(emu: Emulator) -> None:
    with httpx.Client(base_url=emu.base_url) as http:
        http.get(BATCHES, headers={"Anthropic-Version": "2023-06-01", "X-Api-Key": "k1"})
        http.get(BATCHES, headers={"anthropic-version": "2023-06-01"})
    (route1, first), (route2, second) = emu.requests_received
    assert route1 == route2 == "list"
    assert first["x-api-key"] == "k1"
    assert "x-api-key" not in second


def test_two_unseeded_emulators_never_give_the_same_batch_ids() -> None:
    ids = []
    for _ in range(2):
        with (
            Emulator(time_scale=0) as emu,
            httpx.Client(base_url=emu.base_url, headers=HEADERS) as http,
        ):
            ids.append(create_n(http, 1)["id"])
    assert ids[0] != ids[1]
    with Emulator(time_scale=0, seed=3) as one, Emulator(time_scale=0, seed=3) as two:
        made = [
            httpx.post(
                f"{emu.base_url}{BATCHES}", headers=HEADERS, json={"requests": [request("x")]}
            ).json()["id"]
            for emu in (one, two)
        ]
    assert made[0] == made[1]  # seeded: the same ids, for a repeatable run
