"""The emulated xAI REST objects read by the official SDK's own protobufs (`xai-sdk`).

The SDK speaks gRPC only; its batch calls cannot reach a REST server. Its protobufs
(`xai_sdk.proto.batch_pb2`) still name every field of the batch objects, and the REST
objects are their JSON form: each one the emulator sends must parse into the SDK's message
with no unknown field (`json_format.ParseDict` refuses those). Where REST and gRPC differ
(request states written `succeeded` for `STATE_SUCCEEDED`; a result's `batch_result` with
`chat_get_completion` for gRPC's `response.completion_response`), the test says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from xai_sdk.proto import batch_pb2

from batchwork_prefect.emulator import Emulator

KEY = "xai-test-0123456789abcdef"


@pytest.fixture
def xai() -> Iterator[tuple[httpx.Client, Emulator]]:
    with Emulator(time_scale=0, processing_seconds=60, api_key=KEY) as emu:
        headers = {"authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=emu.base_url_for("xai"), headers=headers) as http:
            yield http, emu


def _filled(http: httpx.Client) -> str:
    batch_id: str = http.post("/batches", json={"name": "sdk"}).json()["batch_id"]
    chat = {"model": "grok-4", "messages": [{"role": "user", "content": "hi"}]}
    entries = [
        {"batch_request_id": f"r{i}", "batch_request": {"chat_get_completion": chat}}
        for i in range(3)
    ]
    http.post(f"/batches/{batch_id}/requests", json={"batch_requests": entries})
    return batch_id


def test_every_batch_object_parses_into_the_sdks_batch(
    xai: tuple[httpx.Client, Emulator],
) -> None:
    http, emu = xai
    batch_id = _filled(http)
    made = json_format.ParseDict(http.get(f"/batches/{batch_id}").json(), batch_pb2.Batch())
    assert made.batch_id == batch_id and made.state.num_requests == 3
    assert made.state.num_pending == 3 and made.create_time.seconds > 0
    emu.advance(60)
    done = json_format.ParseDict(http.get(f"/batches/{batch_id}").json(), batch_pb2.Batch())
    assert (done.state.num_pending, done.state.num_success) == (0, 3)
    cancelled = json_format.ParseDict(
        http.post(f"/batches/{batch_id}:cancel").json(), batch_pb2.Batch()
    )
    assert cancelled.cancel_time.seconds > 0


def test_the_batch_list_parses_into_the_sdks_list_response(
    xai: tuple[httpx.Client, Emulator],
) -> None:
    http, _ = xai
    ids = [_filled(http) for _ in range(2)]
    page = json_format.ParseDict(
        http.get("/batches", params={"limit": 1}).json(), batch_pb2.ListBatchesResponse()
    )
    assert [batch.batch_id for batch in page.batches] == ids[1:]
    assert page.pagination_token == ids[1]


def test_request_metadata_parses_once_states_take_their_grpc_names(
    xai: tuple[httpx.Client, Emulator],
) -> None:
    http, emu = xai
    batch_id = _filled(http)
    emu.advance(60)
    body: dict[str, Any] = http.get(f"/batches/{batch_id}/requests").json()
    assert {item["state"] for item in body["batch_request_metadata"]} == {"succeeded"}
    for item in body["batch_request_metadata"]:
        item["state"] = "STATE_" + item["state"].upper()
    parsed = json_format.ParseDict(body, batch_pb2.ListBatchRequestMetadataResponse())
    assert [item.batch_request_id for item in parsed.batch_request_metadata] == [
        "r0",
        "r1",
        "r2",
    ]
    assert all(
        item.state == batch_pb2.BatchRequestMetadata.STATE_SUCCEEDED
        for item in parsed.batch_request_metadata
    )


def test_a_result_nests_as_the_rest_reference_says_not_as_grpc(
    xai: tuple[httpx.Client, Emulator],
) -> None:
    http, emu = xai
    batch_id = _filled(http)
    emu.advance(60)
    result = http.get(f"/batches/{batch_id}/results").json()["results"][0]
    assert set(result) == {"batch_request_id", "batch_result"}
    assert set(result["batch_result"]["response"]) == {"chat_get_completion"}
    # the SDK's gRPC form of the same result: response.completion_response, or error
    fields = batch_pb2.BatchResult.DESCRIPTOR.fields_by_name
    assert set(fields) == {"batch_request_id", "response", "error"}
    assert "completion_response" in batch_pb2.BatchResultData.DESCRIPTOR.fields_by_name
    with pytest.raises(json_format.ParseError):
        json_format.ParseDict(result, batch_pb2.BatchResult())
