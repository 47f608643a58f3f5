"""The emulated xAI Batch API over HTTP: each REST shape as xAI's reference gives it.

The shapes are pinned from the REST reference (docs.x.ai, Inference API > Batches): the
batch object's keys, the add-requests body, the results and request-metadata pages, and
their pagination. The official SDK (`xai-sdk`) speaks gRPC only, so its protobufs check
field names here (`test_xai_sdk_protos.py`), not its calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from batchwork_prefect.emulator import Emulator, Fault

KEY = "xai-test-0123456789abcdef"
BATCH_KEYS = {
    "batch_id",
    "name",
    "create_time",
    "expire_time",
    "create_api_key_id",
    "cancel_time",
    "cancel_by_xai_message",
    "state",
}
STATE_KEYS = {"num_requests", "num_pending", "num_success", "num_error", "num_cancelled"}


@pytest.fixture
def xemu() -> Iterator[Emulator]:
    with Emulator(time_scale=0, processing_seconds=60, api_key=KEY) as emu:
        yield emu


@pytest.fixture
def xai(xemu: Emulator) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=xemu.base_url_for("xai"), headers=headers, timeout=10) as http:
        yield http


def _entry(custom_id: str | None, prompt: str, **body: Any) -> dict[str, Any]:
    chat = {"messages": [{"role": "user", "content": prompt}], "model": "grok-4", **body}
    entry: dict[str, Any] = {"batch_request": {"chat_get_completion": chat}}
    if custom_id is not None:
        entry["batch_request_id"] = custom_id
    return entry


def _made(xai: httpx.Client, name: str = "My New Batch") -> dict[str, Any]:
    response = xai.post("/batches", json={"name": name})
    assert response.status_code == 200, response.text
    made: dict[str, Any] = response.json()
    return made


def _add(xai: httpx.Client, batch_id: str, *entries: dict[str, Any]) -> httpx.Response:
    return xai.post(f"/batches/{batch_id}/requests", json={"batch_requests": list(entries)})


def test_a_create_answers_the_reference_batch_object(xai: httpx.Client) -> None:
    made = _made(xai)
    assert set(made) == BATCH_KEYS
    assert made["name"] == "My New Batch"
    assert made["batch_id"].startswith("batch_") and len(made["batch_id"]) == 42
    assert made["state"] == dict.fromkeys(STATE_KEYS, 0)
    assert made["cancel_time"] is None and made["cancel_by_xai_message"] is None
    assert made["create_time"].endswith("Z") and made["expire_time"] > made["create_time"]


def test_requests_added_run_and_their_results_are_the_reference_shape(
    xai: httpx.Client, xemu: Emulator
) -> None:
    batch_id = _made(xai)["batch_id"]
    added = _add(xai, batch_id, _entry("a", "hi"), _entry("b", "x [[emulate:errored]]"))
    assert (added.status_code, added.json()) == (200, {})
    state = xai.get(f"/batches/{batch_id}").json()["state"]
    assert state == {**dict.fromkeys(STATE_KEYS, 0), "num_requests": 2, "num_pending": 2}
    assert xai.get(f"/batches/{batch_id}/results").json() == {
        "results": [],
        "pagination_token": None,
    }
    xemu.advance(60)
    state = xai.get(f"/batches/{batch_id}").json()["state"]
    assert state == {
        **dict.fromkeys(STATE_KEYS, 0),
        "num_requests": 2,
        "num_success": 1,
        "num_error": 1,
    }
    page = xai.get(f"/batches/{batch_id}/results").json()
    by_id = {result["batch_request_id"]: result["batch_result"] for result in page["results"]}
    completion = by_id["a"]["response"]["chat_get_completion"]
    assert set(completion) == {
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
        "system_fingerprint",
    }
    assert completion["object"] == "chat.completion" and completion["model"] == "grok-4"
    assert set(completion["usage"]["prompt_tokens_details"]) == {
        "text_tokens",
        "audio_tokens",
        "image_tokens",
        "cached_tokens",
    }
    assert set(by_id["b"]) == {"error"} and isinstance(by_id["b"]["error"], str)
    assert xemu.submissions("a", api="xai") == 1


def test_an_id_already_in_the_batch_refuses_the_whole_call(xai: httpx.Client) -> None:
    batch_id = _made(xai)["batch_id"]
    assert _add(xai, batch_id, _entry("a", "hi")).status_code == 200
    refused = _add(xai, batch_id, _entry("b", "hi"), _entry("a", "again"))
    assert refused.status_code == 400
    assert set(refused.json()) == {"code", "error"}
    assert "not unique" in refused.json()["error"]
    assert xai.get(f"/batches/{batch_id}").json()["state"]["num_requests"] == 1
    twice = _add(xai, batch_id, _entry("c", "hi"), _entry("c", "hi"))
    assert twice.status_code == 400


def test_a_request_without_an_id_gets_one(xai: httpx.Client) -> None:
    batch_id = _made(xai)["batch_id"]
    assert _add(xai, batch_id, _entry(None, "hi")).status_code == 200
    listed = xai.get(f"/batches/{batch_id}/requests").json()["batch_request_metadata"]
    assert len(listed) == 1 and len(listed[0]["batch_request_id"]) == 36


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'{"batch_requests": {}}', b'{"batch_requests": [{"batch_request": {}}]}'],
)
def test_a_malformed_add_body_is_a_400_and_adds_nothing(xai: httpx.Client, body: bytes) -> None:
    batch_id = _made(xai)["batch_id"]
    answer = xai.post(f"/batches/{batch_id}/requests", content=body)
    assert answer.status_code == 400
    assert xai.get(f"/batches/{batch_id}").json()["state"]["num_requests"] == 0


def test_a_create_needs_a_name(xai: httpx.Client) -> None:
    assert xai.post("/batches", json={}).status_code == 400
    assert xai.post("/batches", json={"name": 3}).status_code == 400


def test_an_add_call_over_25_mb_is_refused(xai: httpx.Client) -> None:
    batch_id = _made(xai)["batch_id"]
    answer = _add(xai, batch_id, _entry("a", "x" * 25_000_000))
    assert answer.status_code == 413


def test_a_cancel_stops_pending_requests_and_closes_the_batch(
    xai: httpx.Client, xemu: Emulator
) -> None:
    batch_id = _made(xai)["batch_id"]
    _add(xai, batch_id, _entry("a", "hi"), _entry("b", "hi"))
    cancelled = xai.post(f"/batches/{batch_id}:cancel")
    assert cancelled.status_code == 200 and cancelled.json()["cancel_time"] is not None
    state = cancelled.json()["state"]
    assert (state["num_cancelled"], state["num_pending"]) == (2, 0)
    assert _add(xai, batch_id, _entry("c", "hi")).status_code == 400
    xemu.advance(60)
    assert xai.get(f"/batches/{batch_id}/results").json()["results"] == []
    states = [
        item["state"]
        for item in xai.get(f"/batches/{batch_id}/requests").json()["batch_request_metadata"]
    ]
    assert states == ["cancelled", "cancelled"]


def test_results_and_requests_page_with_a_token_until_it_is_null(
    xai: httpx.Client, xemu: Emulator
) -> None:
    batch_id = _made(xai)["batch_id"]
    _add(xai, batch_id, *[_entry(f"r{i}", "hi") for i in range(5)])
    xemu.advance(60)
    for path, field in (("results", "results"), ("requests", "batch_request_metadata")):
        seen: list[str] = []
        params: dict[str, Any] = {"limit": 2}
        pages = 0
        while True:
            page = xai.get(f"/batches/{batch_id}/{path}", params=params).json()
            pages += 1
            seen += [item["batch_request_id"] for item in page[field]]
            if page["pagination_token"] is None:
                break
            params = {"limit": 2, "pagination_token": page["pagination_token"]}
        assert pages == 3 and sorted(seen) == [f"r{i}" for i in range(5)]
    guide_form = xai.get(f"/batches/{batch_id}/results", params={"page_size": 4}).json()
    assert len(guide_form["results"]) == 4
    assert xai.get(f"/batches/{batch_id}/results", params={"limit": 1001}).status_code == 400


def test_batches_are_listed_newest_first_in_pages(xai: httpx.Client) -> None:
    made = [_made(xai, f"b{i}")["batch_id"] for i in range(3)]
    first = xai.get("/batches", params={"limit": 2}).json()
    assert set(first) == {"batches", "pagination_token"}
    assert [batch["batch_id"] for batch in first["batches"]] == made[:0:-1]
    rest = xai.get(
        "/batches", params={"limit": 2, "pagination_token": first["pagination_token"]}
    ).json()
    assert [batch["batch_id"] for batch in rest["batches"]] == made[:1]
    assert rest["pagination_token"] is None


def test_request_metadata_tells_each_state(xai: httpx.Client, xemu: Emulator) -> None:
    batch_id = _made(xai)["batch_id"]
    _add(xai, batch_id, _entry("ok", "hi"), _entry("bad", "x [[emulate:errored]]"))
    listed = xai.get(f"/batches/{batch_id}/requests").json()["batch_request_metadata"]
    assert [(item["batch_request_id"], item["state"]) for item in listed] == [
        ("ok", "pending"),
        ("bad", "pending"),
    ]
    assert set(listed[0]) == {
        "batch_request_id",
        "endpoint",
        "model",
        "state",
        "create_time",
        "finish_time",
    }
    xemu.advance(60)
    listed = xai.get(f"/batches/{batch_id}/requests").json()["batch_request_metadata"]
    assert [item["state"] for item in listed] == ["succeeded", "failed"]
    assert listed[0]["finish_time"] is not None


def test_a_missing_key_is_401_and_a_wrong_one_400_without_echoing_it_whole(
    xemu: Emulator,
) -> None:
    with httpx.Client(base_url=xemu.base_url_for("xai"), timeout=10) as http:
        missing = http.post("/batches", json={"name": "n"})
        wrong = http.post(
            "/batches", json={"name": "n"}, headers={"authorization": "Bearer xai-wrong-key-1234"}
        )
    assert missing.status_code == 401
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "Client specified an invalid argument"
    assert "xai-wrong-key-1234" not in wrong.text


def test_more_than_100_add_calls_in_30_seconds_are_429(xai: httpx.Client, xemu: Emulator) -> None:
    batch_id = _made(xai)["batch_id"]
    for index in range(100):
        assert _add(xai, batch_id, _entry(f"r{index}", "hi")).status_code == 200
    assert _add(xai, batch_id, _entry("late", "hi")).status_code == 429
    xemu.advance(30)
    assert _add(xai, batch_id, _entry("late", "hi")).status_code == 200


def test_an_unknown_batch_is_404(xai: httpx.Client) -> None:
    assert xai.get("/batches/batch_0000").status_code == 404


def test_an_add_whose_answer_is_lost_was_still_made(xai: httpx.Client, xemu: Emulator) -> None:
    batch_id = _made(xai)["batch_id"]
    xemu.add_fault(Fault("xai.batches.add", status=500, after_create=True))
    assert _add(xai, batch_id, _entry("a", "hi")).status_code == 500
    assert xai.get(f"/batches/{batch_id}").json()["state"]["num_requests"] == 1
    assert (
        orjson.loads(xai.get(f"/batches/{batch_id}/requests").content)["batch_request_metadata"][0][
            "batch_request_id"
        ]
        == "a"
    )
