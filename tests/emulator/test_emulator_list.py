"""``GET /v1/messages/batches``: ordering, cursors, limits, has_more."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator.emulator_helpers import BATCHES, create_n, error_of


def _page(http: httpx.Client, **params: Any) -> dict[str, Any]:
    response = http.get(BATCHES, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def _ids(page: dict[str, Any]) -> list[str]:
    return [batch["id"] for batch in page["data"]]


@pytest.fixture
def five(client: httpx.Client) -> list[str]:
    """Ids of five batches, oldest first."""
    return [create_n(client, 1, prefix=f"b{i}_")["id"] for i in range(5)]


def test_empty_list(client: httpx.Client) -> None:
    assert _page(client) == {"data": [], "has_more": False, "first_id": None, "last_id": None}


def test_default_is_newest_first(client: httpx.Client, five: list[str]) -> None:
    page = _page(client)
    assert _ids(page) == five[::-1]
    assert page["has_more"] is False
    assert page["first_id"] == five[-1]
    assert page["last_id"] == five[0]
    assert page["data"][0]["type"] == "message_batch"


def test_after_id_walks_to_older(client: httpx.Client, five: list[str]) -> None:
    first = _page(client, limit=2)
    assert _ids(first) == [five[4], five[3]] and first["has_more"] is True
    second = _page(client, limit=2, after_id=first["last_id"])
    assert _ids(second) == [five[2], five[1]] and second["has_more"] is True
    third = _page(client, limit=2, after_id=second["last_id"])
    assert _ids(third) == [five[0]] and third["has_more"] is False


def test_before_id_walks_to_newer(client: httpx.Client, five: list[str]) -> None:
    page = _page(client, limit=2, before_id=five[0])
    assert _ids(page) == [five[2], five[1]]
    assert page["has_more"] is True
    page = _page(client, limit=2, before_id=page["first_id"])
    assert _ids(page) == [five[4], five[3]]
    assert page["has_more"] is False
    assert _page(client, before_id=five[4])["data"] == []


def test_exact_fit_has_no_more(client: httpx.Client, five: list[str]) -> None:
    assert _page(client, limit=5)["has_more"] is False
    assert _page(client, limit=4)["has_more"] is True


def test_deleted_batches_are_skipped(client: httpx.Client, five: list[str]) -> None:
    assert client.delete(f"{BATCHES}/{five[3]}").status_code == 200
    assert _ids(_page(client, limit=2)) == [five[4], five[2]]
    assert _ids(_page(client, limit=2, after_id=five[3])) == [five[2], five[1]]


def test_unknown_cursor_gives_empty_page(client: httpx.Client, five: list[str]) -> None:
    assert _page(client, after_id="msgbatch_unknown")["data"] == []
    assert _page(client, before_id="msgbatch_unknown")["data"] == []


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("0", "limit: Input should be greater than or equal to 1"),
        ("1001", "limit: Input should be less than or equal to 1000"),
        ("abc", "limit: Input should be a valid integer, unable to parse string as an integer"),
    ],
)
def test_limit_out_of_range(client: httpx.Client, limit: str, message: str) -> None:
    assert error_of(client.get(BATCHES, params={"limit": limit})) == (
        400,
        "invalid_request_error",
        message,
    )


def test_limit_bounds_accepted(client: httpx.Client, five: list[str]) -> None:
    assert len(_page(client, limit=1)["data"]) == 1
    assert len(_page(client, limit=1000)["data"]) == 5


def test_default_limit_is_20(emu: Emulator, client: httpx.Client) -> None:
    for i in range(21):
        create_n(client, 1, prefix=f"x{i}_")
    page = _page(client)
    assert len(page["data"]) == 20 and page["has_more"] is True


def test_both_cursors_is_400(client: httpx.Client, five: list[str]) -> None:
    response = client.get(BATCHES, params={"before_id": five[0], "after_id": five[1]})
    assert error_of(response)[:2] == (400, "invalid_request_error")


def test_list_shows_live_status(emu: Emulator, client: httpx.Client) -> None:
    emu.settings.processing_seconds = 10
    create_n(client, 1)
    assert _page(client)["data"][0]["processing_status"] == "in_progress"
    emu.advance(10)
    assert _page(client)["data"][0]["processing_status"] == "ended"
