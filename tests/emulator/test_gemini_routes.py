"""The Gemini routes over plain HTTP: the Operation's shape through its states, Google's
error bodies and auth, pagination, the Files API's resumable upload, both API versions."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson
import pytest

from batchwork_prefect.emulator import Emulator, Fault
from tests.emulator.gemini_helpers import (
    CREATE,
    KEY,
    MODEL,
    base_url,
    create,
    create_body,
    get,
    inline,
    inlined,
    jsonl,
    text_of,
    upload,
)

NAME_RE = re.compile(r"batches/[a-z0-9]{36}")
TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main."


@pytest.fixture
def gemu() -> Iterator[Emulator]:
    with Emulator(time_scale=0, processing_seconds=60, api_key=KEY) as emu:
        yield emu


@pytest.fixture
def gclient(gemu: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url(gemu), headers={"x-goog-api-key": KEY}) as http:
        yield http


def test_create_answers_a_pending_operation(gclient: httpx.Client) -> None:
    operation = create(gclient, inline("a", "Hi"), inline("b", "Ho"))
    assert set(operation) == {"name", "metadata"}
    assert NAME_RE.fullmatch(operation["name"])
    metadata = operation["metadata"]
    assert metadata["@type"] == TYPE + "GenerateContentBatch"
    assert metadata["state"] == "BATCH_STATE_PENDING"
    assert metadata["model"] == f"models/{MODEL}"
    assert metadata["displayName"] == "test-batch"
    assert metadata["name"] == operation["name"]
    assert metadata["batchStats"] == {"requestCount": "2", "pendingRequestCount": "2"}
    assert TIME_RE.fullmatch(metadata["createTime"])
    assert metadata["updateTime"] == metadata["createTime"]


def test_operation_runs_then_succeeds_with_output(gclient: httpx.Client, gemu: Emulator) -> None:
    name = create(gclient, inline("a", "Capital of France? One word."))["name"]
    gemu.advance(1)
    running = get(gclient, name)
    assert running["metadata"]["state"] == "BATCH_STATE_RUNNING"
    assert "done" not in running and "output" not in running["metadata"]
    gemu.advance(59)
    done = get(gclient, name)
    assert done["done"] is True
    metadata = done["metadata"]
    assert metadata["state"] == "BATCH_STATE_SUCCEEDED"
    assert metadata["batchStats"] == {"requestCount": "1", "successfulRequestCount": "1"}
    assert TIME_RE.fullmatch(metadata["endTime"]) and metadata["endTime"] == metadata["updateTime"]
    assert done["response"]["@type"] == TYPE + "GenerateContentBatchOutput"
    assert done["response"]["inlinedResponses"] == metadata["output"]["inlinedResponses"]
    (item,) = inlined(done)
    assert item["metadata"] == {"key": "a"} and text_of(item) == "Paris"
    response = item["response"]
    assert response["modelVersion"] == MODEL
    assert response["candidates"][0]["finishReason"] == "STOP"
    assert response["usageMetadata"] == {
        "promptTokenCount": 7,
        "candidatesTokenCount": 2,
        "totalTokenCount": 9,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 7}],
    }


def test_both_api_versions_are_served(gclient: httpx.Client) -> None:
    name = create(gclient, inline("a", "Hi"))["name"]
    assert gclient.get(f"/v1/{name}").json()["name"] == name
    assert (
        gclient.post(
            f"/v1/models/{MODEL}:batchGenerateContent", json=create_body(inline("b", "x"))
        ).status_code
        == 200
    )


def test_base_url_for_gemini(gemu: Emulator) -> None:
    assert gemu.base_url_for("gemini") == gemu.base_url + "/gemini"


def test_missing_key_and_wrong_key_in_google_shape(gemu: Emulator) -> None:
    with httpx.Client(base_url=base_url(gemu)) as bare:
        start = bare.post(
            "/upload/v1beta/files",
            headers={"x-goog-upload-protocol": "resumable", "x-goog-upload-command": "start"},
        )
        assert start.status_code == 403
        missing = bare.get("/v1beta/batches")
        wrong = bare.get("/v1beta/batches", headers={"x-goog-api-key": "nope"})
    assert missing.status_code == 403
    assert missing.json()["error"]["status"] == "PERMISSION_DENIED"
    assert wrong.status_code == 400
    error = wrong.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["details"][0]["reason"] == "API_KEY_INVALID"


def test_list_pages_newest_first(gclient: httpx.Client) -> None:
    names = [create(gclient, inline(str(n), "Hi"))["name"] for n in range(3)]
    first = gclient.get("/v1beta/batches", params={"pageSize": 2}).json()
    assert [op["name"] for op in first["operations"]] == names[:0:-1]
    second = gclient.get(
        "/v1beta/batches", params={"pageSize": 2, "pageToken": first["nextPageToken"]}
    ).json()
    assert [op["name"] for op in second["operations"]] == names[:1]
    assert "nextPageToken" not in second
    bad = gclient.get("/v1beta/batches", params={"pageToken": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"


def test_cancel_leaves_done_requests_and_cancels_the_rest(
    gclient: httpx.Client, gemu: Emulator
) -> None:
    gemu.settings.gradual_counts = True
    name = create(gclient, inline("a", "Hi"), inline("b", "Ho"))["name"]
    gemu.advance(30)
    assert gclient.post(f"/v1beta/{name}:cancel").json() == {}
    done = get(gclient, name)
    assert done["metadata"]["state"] == "BATCH_STATE_CANCELLED"
    assert done["metadata"]["batchStats"] == {
        "requestCount": "2",
        "successfulRequestCount": "1",
        "failedRequestCount": "1",
    }
    first, second = inlined(done)
    assert text_of(first) == "Emulated reply to: Hi"
    assert second["error"]["code"] == 1 and second["metadata"] == {"key": "b"}


def test_delete_forgets_the_batch(gclient: httpx.Client) -> None:
    name = create(gclient, inline("a", "Hi"))["name"]
    assert gclient.delete(f"/v1beta/{name}").json() == {}
    missing = gclient.get(f"/v1beta/{name}")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"


def test_file_batch_writes_a_responses_file(gclient: httpx.Client, gemu: Emulator) -> None:
    lines = jsonl(
        {
            "key": "x",
            "request": {"contents": [{"parts": [{"text": "Capital of Japan? One word."}]}]},
        },
        {"key": "y", "request": {"generationConfig": {}}},
    )
    file_name = upload(gclient, lines + b"not json\n")
    body = {"batch": {"displayName": "f", "inputConfig": {"fileName": file_name}}}
    created = gclient.post(CREATE, json=body).json()
    assert created["metadata"]["inputConfig"] == {"fileName": file_name}
    name = created["name"]
    gemu.advance(60)
    done = get(gclient, name)
    responses_file = done["metadata"]["output"]["responsesFile"]
    assert responses_file == "files/batch-" + name.removeprefix("batches/")
    info = gclient.get(f"/v1beta/{responses_file}").json()
    assert (info["source"], info["mimeType"]) == ("GENERATED", "application/jsonl")
    raw = gclient.get(f"/v1beta/{responses_file}:download", params={"alt": "media"}).content
    assert gclient.get(f"/download/v1beta/{responses_file}:download").content == raw
    first, second, third = (orjson.loads(line) for line in raw.splitlines())
    assert first["key"] == "x" and first["response"]["candidates"][0]["content"]["parts"] == [
        {"text": "Tokyo"}
    ]
    assert second["key"] == "y" and second["error"]["code"] == 3
    assert third["key"] == "3" and third["error"] == {
        "code": 3,
        "message": "Line 3 is not valid JSON.",
    }


def test_chunked_upload_and_wrong_offset(gclient: httpx.Client) -> None:
    start = gclient.post(
        "/upload/v1beta/files",
        headers={
            "x-goog-upload-protocol": "resumable",
            "x-goog-upload-command": "start",
            "x-goog-upload-header-content-length": "6",
            "x-goog-upload-header-content-type": "application/jsonl",
        },
    )
    url = start.headers["x-goog-upload-url"]
    assert start.headers["x-goog-upload-status"] == "active"
    part = httpx.post(
        url,
        headers={"x-goog-upload-command": "upload", "x-goog-upload-offset": "0"},
        content=b"abc",
    )
    assert part.headers["x-goog-upload-status"] == "active"
    skipped = httpx.post(
        url,
        headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "4"},
        content=b"def",
    )
    assert skipped.status_code == 400
    final = httpx.post(
        url,
        headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "3"},
        content=b"def",
    )
    resource = final.json()["file"]
    assert (resource["sizeBytes"], resource["source"], resource["state"]) == (
        "6",
        "UPLOADED",
        "ACTIVE",
    )
    name = resource["name"]
    assert gclient.delete(f"/v1beta/{name}").json() == {}
    assert gclient.get(f"/v1beta/{name}").status_code == 403


def test_after_create_fault_stores_the_batch(gclient: httpx.Client, gemu: Emulator) -> None:
    gemu.add_fault(Fault("gemini.batches.create", status=503, after_create=True))
    response = gclient.post(CREATE, json=create_body(inline("a", "Hi")))
    assert response.status_code == 503
    assert response.json()["error"]["status"] == "UNAVAILABLE"
    assert gemu.batches_created == 1
    listed = gclient.get("/v1beta/batches").json()["operations"]
    assert len(listed) == 1


def test_cancel_takes_cancel_seconds(gclient: httpx.Client, gemu: Emulator) -> None:
    gemu.settings.cancel_seconds = 10
    name = create(gclient, inline("a", "Hi"))["name"]
    gemu.advance(1)
    gclient.post(f"/v1beta/{name}:cancel")
    gemu.advance(9)
    assert get(gclient, name)["metadata"]["state"] == "BATCH_STATE_RUNNING"
    gemu.advance(1)
    assert get(gclient, name)["metadata"]["state"] == "BATCH_STATE_CANCELLED"


def test_request_id_header(gclient: httpx.Client) -> None:
    response = gclient.get("/v1beta/batches")
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-emulator-request-id"])


def test_file_resource_fields(gclient: httpx.Client, gemu: Emulator) -> None:
    gemu.add_fault(Fault("gemini.files.upload_session", status=500, after_create=True))
    start = gclient.post(
        "/upload/v1beta/files",
        headers={
            "x-goog-upload-protocol": "resumable",
            "x-goog-upload-command": "start",
            "x-goog-upload-header-content-length": "2",
        },
        json={"file": {"mimeType": "application/jsonl"}},
    )
    url = start.headers["x-goog-upload-url"]
    faulted = httpx.post(
        url,
        headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"},
        content=b"{}",
    )
    assert faulted.status_code == 500 and faulted.json()["error"]["status"] == "INTERNAL"
    (resource,) = gclient.get("/v1beta/files").json()["files"]
    assert re.fullmatch(r"files/[a-z0-9]{12}", resource["name"])
    assert (resource["mimeType"], resource["sizeBytes"]) == ("application/jsonl", "2")
    assert resource["expirationTime"] > resource["createTime"]
    assert resource["uri"].endswith("/gemini/v1beta/" + resource["name"])
    assert "downloadUri" not in resource and resource["sha256Hash"]


def test_files_list_pages_newest_first(gclient: httpx.Client) -> None:
    names = [upload(gclient, b"{}\n") for _ in range(2)]
    first = gclient.get("/v1beta/files", params={"pageSize": 1}).json()
    assert [f["name"] for f in first["files"]] == names[1:]
    second = gclient.get(
        "/v1beta/files", params={"pageSize": 1, "pageToken": first["nextPageToken"]}
    ).json()
    assert [f["name"] for f in second["files"]] == names[:1] and "nextPageToken" not in second


def test_ids_follow_the_seed_and_differ_unseeded() -> None:
    def first_name(seed: int | None) -> str:
        emu = Emulator(time_scale=0, seed=seed)
        with emu, httpx.Client(base_url=base_url(emu.start())) as client:
            return str(create(client, inline("a", "Hi"))["name"])

    assert first_name(7) == first_name(7)
    assert first_name(None) != first_name(None)


def test_a_held_create_is_stored_before_its_answer(gclient: httpx.Client, gemu: Emulator) -> None:
    gemu.add_fault(Fault("gemini.batches.create", hold_after_bytes=0))
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(gclient.post, CREATE, json=create_body(inline("a", "Hi")))
        assert gemu.wait_held(1, timeout=10)
        assert gemu.batches_created == 1
        gemu.release()
        assert pending.result(timeout=10).status_code == 200
