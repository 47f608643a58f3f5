"""Reading an OpenAI batch's results: both files, requests in neither, and integrity checks.

The API is staged with httpx.MockTransport: these are the shapes the emulator never sends
(requests missing from both files, malformed lines, unsafe file ids).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from batchwork_prefect import (
    ResultsIntegrityError,
    ResultsNotReadyError,
    ResultStatus,
    UnsafeURLError,
)
from batchwork_prefect.core import BatchJob
from batchwork_prefect.errors import ProtocolError
from batchwork_prefect.providers.openai import OpenAIProvider

KEY = "sk-test-0123456789abcdef"
COMPLETION = {"choices": [{"message": {"content": "ok"}}], "usage": {"prompt_tokens": 1}}


def _line(custom_id: str, status: int = 200) -> bytes:
    body = COMPLETION if status == 200 else {"error": {"message": "no", "type": "server_error"}}
    response = {"status_code": status, "request_id": "req", "body": body}
    return orjson.dumps({"custom_id": custom_id, "response": response, "error": None})


def _file(*lines: bytes) -> bytes:
    return b"".join(line + b"\n" for line in lines)


class _Api:
    """A staged batch with its files; records the paths asked for."""

    def __init__(self, batch: dict[str, Any], files: dict[str, bytes]) -> None:
        self.batch = {
            "id": "batch_1",
            "input_file_id": "file-in",
            "output_file_id": None,
            "error_file_id": None,
            "created_at": 1,
            "errors": None,
            **batch,
        }
        self.files = files
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if request.url.path == "/v1/batches/batch_1":
            return httpx.Response(200, json=self.batch)
        for file_id, content in self.files.items():
            if request.url.path == f"/v1/files/{file_id}/content":
                return httpx.Response(200, content=content)
        return httpx.Response(404, json={"error": {"message": "no", "type": "not_found"}})

    def provider(self) -> OpenAIProvider:
        return OpenAIProvider(
            api_key=KEY,
            base_url="https://api.openai.test/v1",
            client=httpx.Client(transport=httpx.MockTransport(self)),
            sleep=lambda _: None,
        )


INPUT = _file(
    *(
        orjson.dumps({"custom_id": name, "method": "POST", "url": "/v1/chat/completions"})
        for name in ("a", "b", "c")
    )
)


def _job(api: _Api, custom_ids: list[str] | None) -> BatchJob:
    provider = api.provider()
    ids = None if custom_ids is None else [custom_ids]
    return BatchJob.attach(provider, ["batch_1"], custom_ids=ids)


@pytest.mark.parametrize(
    ("status", "outcome"), [("expired", ResultStatus.EXPIRED), ("cancelled", ResultStatus.CANCELED)]
)
@pytest.mark.parametrize("known", [True, False])
def test_requests_in_neither_file_end_as_the_batch_did(
    status: str, outcome: ResultStatus, known: bool
) -> None:
    api = _Api(
        {
            "status": status,
            "output_file_id": "file-out",
            "error_file_id": "file-err",
            "request_counts": {"total": 3, "completed": 1, "failed": 1},
        },
        {"file-out": _file(_line("a")), "file-err": _file(_line("b", 500)), "file-in": INPUT},
    )
    results = _job(api, ["a", "b", "c"] if known else None).collect()
    assert {r.custom_id: r.status for r in results.values()} == {
        "a": ResultStatus.SUCCEEDED,
        "b": ResultStatus.ERRORED,
        "c": outcome,
    }
    # the submitted ids come from the caller when it knows them, else from the input file
    assert ("/v1/files/file-in/content" in api.paths) is not known


def test_a_completed_batch_missing_a_request_fails_the_integrity_check() -> None:
    api = _Api(
        {
            "status": "completed",
            "output_file_id": "file-out",
            "request_counts": {"total": 3, "completed": 3, "failed": 0},
        },
        {"file-out": _file(_line("a"), _line("b"))},
    )
    with pytest.raises(ResultsIntegrityError) as caught:
        _job(api, ["a", "b", "c"]).collect()
    problems = " ".join(caught.value.problems)
    assert "reported 3 requests but 2 results read" in problems
    assert "1 requests have no result: c" in problems
    assert caught.value.partial is not None and len(caught.value.partial) == 2


def test_malformed_repeated_and_unknown_lines_are_kept_and_reported() -> None:
    api = _Api(
        {
            "status": "completed",
            "output_file_id": "file-out",
            "request_counts": {"total": 2, "completed": 2, "failed": 0},
        },
        {"file-out": _file(_line("a"), b'{"custom_id": "b"}', _line("a"), _line("z"))},
    )
    with pytest.raises(ResultsIntegrityError) as caught:
        _job(api, ["a", "b"]).collect()
    error = caught.value
    assert error.bad_lines == [b'{"custom_id": "b"}', _line("a")]
    problems = " ".join(error.problems)
    assert "line 2 is not a valid result" in problems
    assert "line 3 repeats custom_id 'a'" in problems
    assert "have no result: b" in problems
    assert "1 results have a custom_id that was never submitted: z" in problems
    assert error.partial is not None and sorted(error.partial.texts()) == ["a", "z"]


def test_results_of_a_running_batch_are_not_ready() -> None:
    api = _Api({"status": "in_progress", "request_counts": {"total": 1}}, {})
    with pytest.raises(ResultsNotReadyError):
        _job(api, ["a"]).collect()


def test_an_unsafe_file_id_is_never_put_in_a_url() -> None:
    api = _Api(
        {
            "status": "completed",
            "output_file_id": "file-x/../../elsewhere",
            "request_counts": {"total": 1, "completed": 1, "failed": 0},
        },
        {},
    )
    with pytest.raises(UnsafeURLError):
        _job(api, ["a"]).collect()
    assert all("elsewhere" not in path for path in api.paths)


def _upload_answer(answer: Callable[[httpx.Request], httpx.Response]) -> OpenAIProvider:
    return OpenAIProvider(
        api_key=KEY,
        base_url="https://api.openai.test/v1",
        client=httpx.Client(transport=httpx.MockTransport(answer)),
        sleep=lambda _: None,
    )


def test_an_upload_answered_without_a_usable_file_id_fails_closed_before_any_batch() -> None:
    paths: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json={"id": "file-a/b", "object": "file"})

    with pytest.raises(ProtocolError, match="file id"):
        _upload_answer(answer).create([b"{}"], digest="d")
    assert paths == ["/v1/files"]


def test_the_upload_is_multipart_with_purpose_batch_and_a_jsonl_file() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        if request.url.path == "/v1/files":
            return httpx.Response(200, json={"id": "file-1"})
        return httpx.Response(
            200,
            json={
                "id": "batch_1",
                "status": "validating",
                "created_at": 1,
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
                "metadata": orjson.loads(request.content)["metadata"],
            },
        )

    snapshot = _upload_answer(answer).create(
        [b'{"custom_id":"a"}', b'{"custom_id":"b"}'], digest="d1"
    )
    upload, create = seen
    assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
    assert upload.headers["authorization"] == f"Bearer {KEY}"
    assert b'name="purpose"\r\n\r\nbatch\r\n' in upload.content
    assert b'filename="batchwork-d1.jsonl"' in upload.content
    assert b'\r\n\r\n{"custom_id":"a"}\n{"custom_id":"b"}\n\r\n--' in upload.content
    assert orjson.loads(create.content) == {
        "input_file_id": "file-1",
        "endpoint": "/v1/chat/completions",
        "completion_window": "24h",
        "metadata": {"batchwork_digest": "d1", "batchwork_requests": "2"},
    }
    assert snapshot.digest == "d1"
    assert snapshot.request_counts.total == 2
