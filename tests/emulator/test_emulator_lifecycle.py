"""The emulated timeline: counters, cancel, 24 h expiry and 29-day archive."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator.emulator_helpers import (
    BATCHES,
    HEADERS,
    create,
    create_n,
    error_of,
    request,
    results,
    retrieve,
)

HOUR = 3600.0
DAY = 24 * HOUR


@pytest.fixture
def slow() -> Iterator[tuple[Emulator, httpx.Client]]:
    """Batches take 100 emulated seconds; cancels take 10."""
    with (
        Emulator(time_scale=0, processing_seconds=100, cancel_seconds=10) as emu,
        httpx.Client(base_url=emu.base_url, headers=HEADERS) as http,
    ):
        yield emu, http


@pytest.fixture
def gradual() -> Iterator[tuple[Emulator, httpx.Client]]:
    """Like ``slow`` but with counters that move while processing."""
    with (
        Emulator(
            time_scale=0, processing_seconds=100, cancel_seconds=10, gradual_counts=True
        ) as emu,
        httpx.Client(base_url=emu.base_url, headers=HEADERS) as http,
    ):
        yield emu, http


def _counts(http: httpx.Client, batch_id: str) -> dict[str, int]:
    counts: dict[str, int] = retrieve(http, batch_id)["request_counts"]
    return counts


def _mixed(count: int) -> list[dict[str, Any]]:
    """Every fourth request errors (max_tokens 0), the rest succeed."""
    return [
        request(f"r{i}", max_tokens=0) if i % 4 == 0 else request(f"r{i}") for i in range(count)
    ]


def test_documented_counts_stay_processing_until_ended(slow: tuple[Emulator, httpx.Client]) -> None:
    emu, http = slow
    batch = create(http, _mixed(8))
    for _ in range(3):
        emu.advance(33)
        got = retrieve(http, batch["id"])
        assert got["processing_status"] == "in_progress"
        assert got["request_counts"]["processing"] == 8
        assert got["ended_at"] is None and got["results_url"] is None
    emu.advance(1)
    got = retrieve(http, batch["id"])
    assert got["processing_status"] == "ended"
    assert got["request_counts"] == {
        "processing": 0,
        "succeeded": 6,
        "errored": 2,
        "canceled": 0,
        "expired": 0,
    }


def test_gradual_counts_move_monotonically(gradual: tuple[Emulator, httpx.Client]) -> None:
    emu, http = gradual
    batch = create(http, _mixed(40))
    snapshots = [_counts(http, batch["id"])]
    for _ in range(10):
        emu.advance(10)
        snapshots.append(_counts(http, batch["id"]))
    assert snapshots[0]["processing"] == 40
    assert snapshots[5] == {
        "processing": 20,
        "succeeded": 15,
        "errored": 5,
        "canceled": 0,
        "expired": 0,
    }
    assert snapshots[-1]["processing"] == 0
    for before, after in itertools.pairwise(snapshots):
        assert sum(after.values()) == 40
        assert after["processing"] <= before["processing"]
        assert after["succeeded"] >= before["succeeded"]
        assert after["errored"] >= before["errored"]


def test_cancel_flow_documented(slow: tuple[Emulator, httpx.Client]) -> None:
    emu, http = slow
    batch = create_n(http, 4)
    emu.advance(50)
    response = http.post(f"{BATCHES}/{batch['id']}/cancel")
    assert response.status_code == 200
    canceling = response.json()
    assert canceling["processing_status"] == "canceling"
    assert canceling["cancel_initiated_at"] is not None
    assert canceling["request_counts"]["processing"] == 4
    assert canceling["ended_at"] is None
    assert http.post(f"{BATCHES}/{batch['id']}/cancel").json()["processing_status"] == "canceling"
    assert http.get(f"{BATCHES}/{batch['id']}/results").status_code == 404
    emu.advance(10)
    ended = retrieve(http, batch["id"])
    assert ended["processing_status"] == "ended"
    assert ended["cancel_initiated_at"] == canceling["cancel_initiated_at"]
    assert ended["request_counts"] == {
        "processing": 0,
        "succeeded": 2,
        "errored": 0,
        "canceled": 2,
        "expired": 0,
    }
    kinds = sorted(line["type"] for line in results(http, batch["id"]).values())
    assert kinds == ["canceled", "canceled", "succeeded", "succeeded"]


def test_cancel_keeps_requests_done_before_it(gradual: tuple[Emulator, httpx.Client]) -> None:
    emu, http = gradual
    batch = create(http, [*_mixed(8), request("marked", "[[emulate:expired]]")])
    emu.advance(50)
    canceling = http.post(f"{BATCHES}/{batch['id']}/cancel").json()
    frozen = canceling["request_counts"]
    assert frozen == {"processing": 5, "succeeded": 3, "errored": 1, "canceled": 0, "expired": 0}
    emu.advance(5)
    assert _counts(http, batch["id"]) == frozen
    emu.advance(5)
    assert _counts(http, batch["id"]) == {
        "processing": 0,
        "succeeded": 3,
        "errored": 1,
        "canceled": 5,
        "expired": 0,
    }
    lines = results(http, batch["id"])
    assert lines["marked"] == {"type": "canceled"}


def test_cancel_immediately_with_zero_cancel_seconds() -> None:
    with (
        Emulator(time_scale=0, processing_seconds=100) as emu,
        httpx.Client(base_url=emu.base_url, headers=HEADERS) as http,
    ):
        batch = create_n(http, 3)
        assert http.post(f"{BATCHES}/{batch['id']}/cancel").json()["processing_status"] == (
            "canceling"
        )
        ended = retrieve(http, batch["id"])
        assert ended["processing_status"] == "ended"
        assert ended["request_counts"]["canceled"] == 3
        assert emu.calls["cancel"] == 1


def test_cancel_ended_batch_is_400(client: httpx.Client) -> None:
    batch = create_n(client, 1)
    status, error_type, _ = error_of(client.post(f"{BATCHES}/{batch['id']}/cancel"))
    assert (status, error_type) == (400, "invalid_request_error")
    assert error_of(client.post(f"{BATCHES}/msgbatch_x/cancel"))[0] == 404


def test_expiry_after_24_hours() -> None:
    with (
        Emulator(time_scale=0, processing_seconds=2 * DAY, gradual_counts=True) as emu,
        httpx.Client(base_url=emu.base_url, headers=HEADERS) as http,
    ):
        batch = create_n(http, 10)
        emu.advance(DAY - 1)
        assert retrieve(http, batch["id"])["processing_status"] == "in_progress"
        emu.advance(1)
        ended = retrieve(http, batch["id"])
        assert ended["processing_status"] == "ended"
        assert ended["ended_at"] == ended["expires_at"]
        assert ended["request_counts"] == {
            "processing": 0,
            "succeeded": 5,
            "errored": 0,
            "canceled": 0,
            "expired": 5,
        }
        kinds = [line["type"] for line in results(http, batch["id"]).values()]
        assert sorted(kinds) == ["expired"] * 5 + ["succeeded"] * 5


def test_archive_after_29_days(client: httpx.Client, emu: Emulator) -> None:
    batch = create_n(client, 2)
    assert len(results(client, batch["id"])) == 2
    emu.advance(29 * DAY - 1)
    assert retrieve(client, batch["id"])["archived_at"] is None
    emu.advance(1)
    archived = retrieve(client, batch["id"])
    assert archived["processing_status"] == "ended"
    assert archived["archived_at"] is not None
    assert archived["archived_at"] > archived["created_at"]
    response = client.get(f"{BATCHES}/{batch['id']}/results")
    assert error_of(response)[:2] == (404, "not_found_error")


def test_settings_changes_apply_to_later_batches(emu: Emulator, client: httpx.Client) -> None:
    quick = create_n(client, 1, prefix="q")
    emu.settings.processing_seconds = 10
    slow = create_n(client, 1, prefix="s")
    assert retrieve(client, quick["id"])["processing_status"] == "ended"
    assert retrieve(client, slow["id"])["processing_status"] == "in_progress"


def test_real_time_scale_moves_clock() -> None:
    with Emulator(time_scale=3600, processing_seconds=3600) as emu:
        start = emu.now()
        emu.advance(5)
        assert emu.now() >= start + 5
