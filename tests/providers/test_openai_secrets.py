"""The OpenAI key stays out of errors, logs and results, even as OpenAI echoes it, masked."""

from __future__ import annotations

import logging

import httpx
import orjson
import pytest

from batchwork_prefect import ConfigurationError, ProviderError, batch
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.models import BatchSnapshot, BatchStatus, RequestCounts
from batchwork_prefect.providers.openai import OpenAIProvider

RIGHT = "sk-proj-right0123456789abcdefghijklmnopqrstuvwxyz"
WRONG = "sk-proj-WRONG9876543210ZYXWVUTSRQPONMLKJIHGFEDCBA"


def _pieces(key: str) -> list[str]:
    return [key[start : start + 8] for start in range(len(key) - 7)]


@pytest.mark.parametrize("wrong", [WRONG, "sk-short-1"])
def test_a_wrong_key_echoed_by_a_401_is_scrubbed(
    wrong: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with Emulator(api_key=RIGHT) as emu, pytest.raises(ProviderError) as caught:
        batch("openai/gpt-4o-mini", [{"prompt": "x"}], api_key=wrong, base_url=emu.openai_base_url)
    error = caught.value
    assert error.status_code == 401
    assert "Incorrect API key provided" in str(error)
    for text in (str(error), repr(error), caplog.text):
        assert wrong not in text
        assert not any(piece in text for piece in _pieces(wrong))
        assert "****" not in text


def test_the_key_is_in_no_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    provider = OpenAIProvider(api_key=RIGHT)
    assert RIGHT not in repr(provider)
    assert repr(provider) == "OpenAIProvider(base_url='https://api.openai.com/v1')"


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({}, "OPENAI_API_KEY"),
        ({"api_key": "sk-has space"}, "spaces"),
        ({"api_key": RIGHT, "headers": {"Authorization": "Bearer x"}}, "api_key"),
        ({"api_key": RIGHT, "base_url": "http://api.example.com/v1"}, "https"),
    ],
)
def test_unusable_settings_are_refused_before_any_request(
    options: dict[str, object], words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match=words):
        OpenAIProvider(**options)  # type: ignore[arg-type]


def _mock_provider(handler: httpx.MockTransport) -> OpenAIProvider:
    return OpenAIProvider(
        api_key=RIGHT,
        base_url="https://api.openai.test/v1",
        client=httpx.Client(transport=handler),
        sleep=lambda _: None,
    )


def test_a_key_in_a_result_error_or_a_batch_error_is_scrubbed() -> None:
    masked = RIGHT[:8] + "*" * 20 + RIGHT[-4:]
    batch_body = {
        "id": "batch_1",
        "status": "failed",
        "input_file_id": "file-in",
        "output_file_id": None,
        "error_file_id": "file-err",
        "created_at": 1,
        "request_counts": {"total": 1, "completed": 0, "failed": 1},
        "errors": {"data": [{"code": "bad", "message": f"key {masked} refused", "line": 1}]},
    }
    error_line = {
        "custom_id": "a",
        "response": {
            "status_code": 401,
            "request_id": "req_1",
            "body": {"error": {"message": f"Incorrect API key provided: {RIGHT}.", "type": "t"}},
        },
        "error": None,
    }

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/batches/batch_1":
            return httpx.Response(200, json=batch_body)
        if request.url.path == "/v1/files/file-err/content":
            return httpx.Response(200, content=orjson.dumps(error_line) + b"\n")
        return httpx.Response(404)

    provider = _mock_provider(httpx.MockTransport(answer))
    snapshot = provider.retrieve("batch_1")
    assert snapshot.errors[0].message == "key <redacted> refused"
    ended = BatchSnapshot(
        id="batch_1",
        provider="openai",
        status=BatchStatus.FAILED,
        request_counts=RequestCounts(total=1, errored=1),
        provider_status="failed",
    )
    results = list(provider.results(ended, custom_ids=["a"]))
    assert len(results) == 1
    text = repr(results)
    assert RIGHT not in text and "<redacted>" in text
