"""Bad input gets a clear error before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

from batchwork_prefect import (
    BatchRequest,
    BatchworkError,
    ConfigurationError,
    InvalidBatchError,
    UnsafeURLError,
    batch,
    get_batch,
)
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.providers import BatchLimits
from tests.support import API_KEY

MODEL = "anthropic/claude-opus-4-8"


def _submit(emulator: Emulator, requests: Any, **options: Any) -> None:
    batch(MODEL, requests, api_key=API_KEY, base_url=emulator.base_url, **options)


@pytest.mark.parametrize(
    ("requests", "message"),
    [
        ([], "at least one request"),
        ({"prompt": "not a list"}, "must be a list"),
        ([{"custom_id": "a b", "prompt": "x"}], "custom_id"),
        ([{"custom_id": "x" * 65, "prompt": "x"}], "custom_id"),
        ([{"custom_id": "a", "prompt": "x"}, {"custom_id": "a", "prompt": "y"}], "duplicate"),
        ([{"prompt": "x"}, {"custom_id": "request-0", "prompt": "y"}], "duplicate"),
        ([{"custom_id": "a"}], "exactly one"),
        ([{"custom_id": "a", "prompt": "x", "messages": [{"role": "user"}]}], "exactly one"),
        ([{"prompt": "x", "max_tokens": 0}], "max_tokens"),
        ([{"prompt": "x", "temprature": 1}], "temprature"),
        ([BatchRequest(prompt="x", params={"stream": True})], "stream"),
        ([BatchRequest(prompt="x", params={"model": "claude-other"})], "conflicts"),
        (None, "requests must be a list"),
        (5, "requests must be a list"),
        ([None], r"requests\[0\]"),
        (
            [{"custom_id": "a", "prompt": "x", "max_tokens": 2**64}],
            r"requests\[0\] \(a\): max_tokens: cannot be encoded as JSON \(Integer exceeds",
        ),
        (
            [{"prompt": "x"}, {"custom_id": "b", "prompt": "x", "params": {"n": {"k": -(2**64)}}}],
            r"requests\[1\] \(b\): n\.k: cannot be encoded as JSON",
        ),
        (
            [BatchRequest(custom_id="c", prompt="x", params={"metadata": object()})],
            r"requests\[0\] \(c\): metadata: cannot be encoded as JSON \(Type is not JSON",
        ),
        (
            [BatchRequest(custom_id="d", prompt="x", tools=[{"input_schema": {1: "x"}}])],
            r"requests\[0\] \(d\): tools\[0\]\.input_schema\[1\]: cannot be encoded",
        ),
    ],
)
def test_bad_requests_are_refused_before_any_call(
    emulator: Emulator, requests: Any, message: str
) -> None:
    with pytest.raises(InvalidBatchError, match=message):
        _submit(emulator, requests)
    assert sum(emulator.calls.values()) == 0
    assert emulator.batches_created == 0


def test_a_duplicate_is_listed_even_when_the_repeat_has_problems_of_its_own(
    emulator: Emulator,
) -> None:
    requests = [
        {"custom_id": "d", "prompt": "x"},
        {"custom_id": "d", "prompt": "y", "messages": [{"role": "user", "content": "y"}]},
    ]
    with pytest.raises(InvalidBatchError) as caught:
        _submit(emulator, requests)
    problems = caught.value.problems
    assert any("requests[1]: duplicate custom_id 'd'" in problem for problem in problems)
    assert any("exactly one of 'prompt' and 'messages'" in problem for problem in problems)
    assert sum(emulator.calls.values()) == 0


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        ({"max_tokens": 0}, r"defaults\.max_tokens: Input should be greater than or equal to 1"),
        ({"max_tokens": "5"}, r"defaults\.max_tokens: must be a JSON integer, not str"),
        ({"max_tokens": 2.5}, r"defaults\.max_tokens: Input should be a valid integer"),
        ({"temperature": -1}, r"defaults\.temperature: Input should be greater than or equal"),
        ({"top_p": 1.5}, r"defaults\.top_p: Input should be less than or equal to 1"),
        ({"top_k": -1}, r"defaults\.top_k"),
        ({"stop_sequences": "END"}, r"defaults\.stop_sequences: Input should be a valid list"),
        ({"tools": [1]}, r"defaults\.tools\.0: Input should be a valid dictionary"),
        ({"tool_choice": "auto"}, r"defaults\.tool_choice: Input should be a valid dictionary"),
        ({"system": 3}, r"defaults\.system"),
        ({"system": None}, r"defaults\.system: None is not a value"),
        ({"max_tokens": 2**64}, r"defaults\.max_tokens: cannot be encoded as JSON"),
        ({"metadata": object()}, r"defaults\.metadata: cannot be encoded as JSON"),
        (["max_tokens"], "defaults must be a dict"),
    ],
)
def test_bad_defaults_are_refused_once_before_any_call(
    emulator: Emulator, defaults: Any, message: str
) -> None:
    requests = [{"custom_id": f"r{i}", "prompt": "x"} for i in range(50)]
    with pytest.raises(InvalidBatchError, match=message) as caught:
        _submit(emulator, requests, defaults=defaults)
    assert len(caught.value.problems) <= 2  # about the defaults, not once per request
    assert sum(emulator.calls.values()) == 0


def test_good_defaults_are_sent_as_given(emulator: Emulator) -> None:
    defaults = {"max_tokens": 7, "temperature": 1, "stop_sequences": ("END",), "top_k": 0}
    job = batch(MODEL, [{"prompt": "x"}], defaults, api_key=API_KEY, base_url=emulator.base_url)
    assert job.request_counts.total == 1


@pytest.mark.parametrize("batch_id", [None, 123, 1.5, [1], ["msgbatch_a", None], {"id": "x"}])
def test_get_batch_refuses_what_is_not_a_batch_id_before_any_call(
    emulator: Emulator, batch_id: Any
) -> None:
    with pytest.raises((ConfigurationError, UnsafeURLError), match="batch"):
        get_batch(batch_id, api_key=API_KEY, base_url=emulator.base_url)
    assert sum(emulator.calls.values()) == 0


@pytest.mark.parametrize("batch_id", ["msgbatch_a\n", "msgbatch_a,msgbatch_b\n", "../x"])
def test_get_batch_refuses_ids_unfit_for_a_path(emulator: Emulator, batch_id: str) -> None:
    with pytest.raises(UnsafeURLError, match="not an Anthropic batch id"):
        get_batch(batch_id, api_key=API_KEY, base_url=emulator.base_url)
    assert sum(emulator.calls.values()) == 0  # every id is checked before the first call


@pytest.mark.parametrize("model", [None, 5, b"anthropic/claude"])
def test_a_model_that_is_not_a_string_is_a_configuration_error(
    emulator: Emulator, model: Any
) -> None:
    with pytest.raises(BatchworkError, match="provider/model"):
        batch(model, [{"prompt": "x"}], api_key=API_KEY, base_url=emulator.base_url)
    assert sum(emulator.calls.values()) == 0


def test_every_problem_is_reported_at_once(emulator: Emulator) -> None:
    requests = [
        {"custom_id": "ok", "prompt": "x"},
        {"custom_id": "bad id", "prompt": "x"},
        {"custom_id": "c"},
        {"custom_id": "d", "prompt": "x", "max_tokens": -1},
    ]
    with pytest.raises(InvalidBatchError) as caught:
        _submit(emulator, requests)
    problems = caught.value.problems
    assert len(problems) == 3
    assert [problem.split(":")[0] for problem in problems] == [
        "requests[1]",
        "requests[2]",
        "requests[3]",
    ]


def test_a_request_too_large_for_any_batch_is_refused(emulator: Emulator) -> None:
    with pytest.raises(InvalidBatchError, match="over the 1000-byte batch limit"):
        _submit(
            emulator,
            [{"prompt": "x"}, {"prompt": "y" * 2000}],
            limits=BatchLimits(max_requests=10, max_bytes=1000),
        )
    assert sum(emulator.calls.values()) == 0


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("claude-opus-4-8", "provider/model"),
        ("anthropic/", "provider/model"),
        ("openai-ish/gpt", "unknown provider"),
    ],
)
def test_bad_model_names(emulator: Emulator, model: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        batch(model, [{"prompt": "x"}], api_key=API_KEY, base_url=emulator.base_url)
    assert sum(emulator.calls.values()) == 0


def test_missing_api_key(monkeypatch: pytest.MonkeyPatch, emulator: Emulator) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="ANTHROPIC_API_KEY"):
        batch(MODEL, [{"prompt": "x"}], base_url=emulator.base_url)
    assert sum(emulator.calls.values()) == 0


@pytest.mark.parametrize(
    "base_url",
    [
        "http://api.example.com",
        "http://10.0.0.1:8080",
        "ftp://127.0.0.1",
        "https://user:pw@api.example.com",
        "https://api.example.com/?key=1",
        "not a url",
    ],
)
def test_unsafe_base_urls_are_refused(base_url: str) -> None:
    with pytest.raises(ConfigurationError):
        batch(MODEL, [{"prompt": "x"}], api_key=API_KEY, base_url=base_url)


@pytest.mark.parametrize(
    "base_url",
    ["https://api.example.com", "http://127.0.0.5:1", "http://localhost:9", "http://[::1]:9"],
)
def test_https_and_loopback_http_are_accepted(base_url: str) -> None:
    from batchwork_prefect.providers.anthropic import AnthropicProvider

    provider = AnthropicProvider(api_key=API_KEY, base_url=base_url)
    assert provider.base_url.startswith(base_url.split(":")[0])
    provider.close()
