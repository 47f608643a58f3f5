"""OpenAI batches: create checks, the status timeline, cancel, expiry and list pagination."""

from __future__ import annotations

import httpx
import pytest

from batchwork_prefect.emulator import Emulator
from tests.emulator.openai_helpers import (
    BATCH_ID_RE,
    BATCH_KEYS,
    ENDPOINT,
    MODEL,
    create,
    error_of,
    jsonl,
    line,
    retrieve,
    upload,
)

DAY = 86_400


def test_create_answers_validating(oclient: httpx.Client) -> None:
    batch = create(oclient, [line("a"), line("b")], metadata={"job": "nightly"})
    assert set(batch) == BATCH_KEYS
    assert BATCH_ID_RE.fullmatch(batch["id"])
    assert batch["object"] == "batch"
    assert (batch["status"], batch["endpoint"], batch["model"]) == ("validating", ENDPOINT, MODEL)
    assert batch["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert batch["metadata"] == {"job": "nightly"}
    assert isinstance(batch["created_at"], int)
    assert batch["expires_at"] == batch["created_at"] + DAY
    assert batch["in_progress_at"] is None and batch["errors"] is None
    assert batch["usage"]["total_tokens"] == 0


def test_batches_created_counts_openai_creates_and_not_uploads(
    oemu: Emulator, oclient: httpx.Client
) -> None:
    upload(oclient, jsonl([line("a")]))
    assert oemu.batches_created == 0
    create(oclient, [line("a")])
    create(oclient, [line("b")])
    assert oemu.batches_created == 2


def test_timeline_to_completed(oemu: Emulator, oclient: httpx.Client) -> None:
    batch = create(oclient, [line(f"r{i}") for i in range(4)])
    created = batch["created_at"]
    seen = retrieve(oclient, batch["id"])
    assert (seen["status"], seen["in_progress_at"]) == ("in_progress", created)
    assert seen["request_counts"] == {"total": 4, "completed": 0, "failed": 0}
    oemu.advance(59)
    assert retrieve(oclient, batch["id"])["request_counts"]["completed"] == 0
    oemu.advance(1)
    done = retrieve(oclient, batch["id"])
    assert done["status"] == "completed"
    assert done["finalizing_at"] == done["completed_at"] == created + 60
    assert done["request_counts"] == {"total": 4, "completed": 4, "failed": 0}
    assert done["output_file_id"] is not None and done["error_file_id"] is None
    assert retrieve(oclient, batch["id"])["output_file_id"] == done["output_file_id"]


def test_gradual_counts(oemu: Emulator, oclient: httpx.Client) -> None:
    oemu.settings.gradual_counts = True
    batch = create(oclient, [line(f"r{i}") for i in range(4)] + [line("e", "[[emulate:errored]]")])
    oemu.advance(30)
    assert retrieve(oclient, batch["id"])["request_counts"] == {
        "total": 5,
        "completed": 2,
        "failed": 0,
    }


def test_finalizing_seconds(oclient: httpx.Client, oemu: Emulator) -> None:
    oemu.settings.finalizing_seconds = 10
    batch = create(oclient, [line("a")])
    oemu.advance(65)
    seen = retrieve(oclient, batch["id"])
    assert seen["status"] == "finalizing"
    assert seen["finalizing_at"] == batch["created_at"] + 60
    assert seen["request_counts"]["completed"] == 1
    assert seen["output_file_id"] is None and seen["completed_at"] is None
    oemu.advance(5)
    done = retrieve(oclient, batch["id"])
    assert (done["status"], done["completed_at"]) == ("completed", batch["created_at"] + 70)
    assert oclient.post(f"/batches/{batch['id']}/cancel").status_code == 409


def test_cancel(oemu: Emulator, oclient: httpx.Client) -> None:
    oemu.settings.gradual_counts = True
    oemu.settings.cancel_seconds = 30
    batch = create(oclient, [line(f"r{i}") for i in range(4)])
    oemu.advance(30)
    cancelling = oclient.post(f"/batches/{batch['id']}/cancel").json()
    assert cancelling["status"] == "cancelling"
    assert cancelling["cancelling_at"] == batch["created_at"] + 30
    again = oclient.post(f"/batches/{batch['id']}/cancel").json()
    assert (again["status"], again["cancelling_at"]) == ("cancelling", cancelling["cancelling_at"])
    oemu.advance(30)
    cancelled = retrieve(oclient, batch["id"])
    assert cancelled["status"] == "cancelled"
    assert cancelled["cancelled_at"] == batch["created_at"] + 60
    assert cancelled["request_counts"] == {"total": 4, "completed": 2, "failed": 2}
    refused = oclient.post(f"/batches/{batch['id']}/cancel")
    assert refused.status_code == 409
    assert error_of(refused)["message"] == "Cannot cancel a batch with status 'cancelled'."


def test_cancel_after_completion_is_refused(oemu: Emulator, oclient: httpx.Client) -> None:
    batch = create(oclient, [line("a")])
    oemu.advance(60)
    response = oclient.post(f"/batches/{batch['id']}/cancel")
    assert response.status_code == 409
    assert error_of(response)["message"] == "Cannot cancel a batch with status 'completed'."


def test_expiry(oemu: Emulator, oclient: httpx.Client) -> None:
    oemu.settings.processing_seconds = 2 * DAY
    oemu.settings.gradual_counts = True
    batch = create(oclient, [line(f"r{i}") for i in range(4)])
    oemu.advance(DAY)
    expired = retrieve(oclient, batch["id"])
    assert expired["status"] == "expired"
    assert expired["expired_at"] == expired["expires_at"] == batch["created_at"] + DAY
    assert expired["request_counts"] == {"total": 4, "completed": 2, "failed": 2}
    assert oclient.post(f"/batches/{batch['id']}/cancel").status_code == 409


def test_unknown_batch(oclient: httpx.Client) -> None:
    for response in (oclient.get("/batches/batch_x"), oclient.post("/batches/batch_x/cancel")):
        assert response.status_code == 404
        assert error_of(response)["message"] == "No batch found with id 'batch_x'."


def _body(file_id: str, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "input_file_id": file_id,
        "endpoint": ENDPOINT,
        "completion_window": "24h",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


@pytest.mark.parametrize(
    ("changes", "code", "param"),
    [
        ({"input_file_id": None}, "missing_required_parameter", "input_file_id"),
        ({"endpoint": None}, "missing_required_parameter", "endpoint"),
        ({"completion_window": None}, "missing_required_parameter", "completion_window"),
        ({"endpoint": "/v1/chat"}, "invalid_value", "endpoint"),
        ({"endpoint": "/v1/embeddings"}, "invalid_value", "endpoint"),
        ({"completion_window": "48h"}, "invalid_value", "completion_window"),
        (
            {"metadata": {f"k{i}": "v" for i in range(17)}},
            "object_above_max_properties",
            "metadata",
        ),
        ({"metadata": {"k" * 65: "v"}}, "string_above_max_length", "metadata"),
        ({"metadata": {"k": "v" * 513}}, "string_above_max_length", "metadata.k"),
        ({"metadata": {"k": 1}}, "invalid_type", "metadata.k"),
    ],
)
def test_create_checks(
    oclient: httpx.Client, changes: dict[str, object], code: str, param: str
) -> None:
    file_id = upload(oclient, b"{}\n")["id"]
    response = oclient.post("/batches", json=_body(file_id, **changes))
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], error["param"], error["type"]) == (code, param, "invalid_request_error")


def test_create_check_messages(oclient: httpx.Client) -> None:
    file_id = upload(oclient, b"{}\n")["id"]
    window = oclient.post("/batches", json=_body(file_id, completion_window="48h"))
    assert error_of(window)["message"] == "Invalid value: '48h'. Supported values are: '24h'."
    absent = oclient.post("/batches", json=_body(file_id, endpoint=None))
    assert error_of(absent)["message"] == "Missing required parameter: 'endpoint'."
    bad_json = oclient.post("/batches", content=b"{", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400
    assert error_of(bad_json)["message"].startswith("We could not parse the JSON body")


def test_create_from_unknown_or_non_batch_file(oclient: httpx.Client) -> None:
    unknown = oclient.post("/batches", json=_body("file-nope"))
    assert unknown.status_code == 404
    assert error_of(unknown)["param"] == "input_file_id"
    notes = upload(oclient, b"{}", filename="notes.txt", purpose="user_data")["id"]
    wrong = oclient.post("/batches", json=_body(notes))
    assert wrong.status_code == 400
    assert (error_of(wrong)["code"], error_of(wrong)["param"]) == ("invalid_value", "input_file_id")


def test_list_pagination(oclient: httpx.Client) -> None:
    ids = [create(oclient, [line("a")])["id"] for _ in range(5)]
    newest_first = ids[::-1]
    first = oclient.get("/batches", params={"limit": 2}).json()
    assert first["object"] == "list"
    assert [batch["id"] for batch in first["data"]] == newest_first[:2]
    assert (first["first_id"], first["last_id"], first["has_more"]) == (
        newest_first[0],
        newest_first[1],
        True,
    )
    rest = oclient.get("/batches", params={"limit": 3, "after": first["last_id"]}).json()
    assert [batch["id"] for batch in rest["data"]] == newest_first[2:]
    assert rest["has_more"] is False
    assert len(oclient.get("/batches").json()["data"]) == 5
    empty = oclient.get("/batches", params={"after": newest_first[-1]}).json()
    assert empty == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


def test_list_default_limit_is_20(oclient: httpx.Client) -> None:
    file_id = upload(oclient, b'{"custom_id": "x"}\n')["id"]
    for _ in range(21):
        assert oclient.post("/batches", json=_body(file_id)).status_code == 200
    page = oclient.get("/batches").json()
    assert (len(page["data"]), page["has_more"]) == (20, True)


@pytest.mark.parametrize(
    ("limit", "code"),
    [("0", "integer_below_min_value"), ("101", "integer_above_max_value"), ("x", "invalid_type")],
)
def test_list_limit_bounds(oclient: httpx.Client, limit: str, code: str) -> None:
    response = oclient.get("/batches", params={"limit": limit})
    assert response.status_code == 400
    assert (error_of(response)["code"], error_of(response)["param"]) == (code, "limit")
    assert oclient.get("/batches", params={"limit": "100"}).status_code == 200
