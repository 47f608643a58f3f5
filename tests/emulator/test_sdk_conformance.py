"""The official ``anthropic`` SDK drives every route of the emulator without error."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from batchwork_prefect.emulator import Emulator

MODEL = "claude-haiku-4-5"


@pytest.fixture
def sdk_emu() -> Iterator[Emulator]:
    with Emulator(time_scale=0, processing_seconds=60, api_key="test") as emu:
        yield emu


@pytest.fixture
def sdk(sdk_emu: Emulator) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(api_key="test", base_url=sdk_emu.base_url, max_retries=0)
    with client:
        yield client


def _requests(count: int, prefix: str = "q") -> list[dict[str, object]]:
    return [
        {
            "custom_id": f"{prefix}{i}",
            "params": {
                "model": MODEL,
                "max_tokens": 32,
                "messages": [{"role": "user", "content": "Capital of France? One word."}],
            },
        }
        for i in range(count)
    ]


def test_create_retrieve_results_delete(sdk: anthropic.Anthropic, sdk_emu: Emulator) -> None:
    requests = _requests(3)
    requests.append(
        {
            "custom_id": "broken",
            "params": {
                "model": "not-a-model",
                "max_tokens": 8,
                "messages": [{"role": "user", "content": "hi"}],
            },
        }
    )
    batch = sdk.messages.batches.create(requests=requests)  # type: ignore[arg-type]
    assert batch.id.startswith("msgbatch_")
    assert batch.processing_status == "in_progress"
    assert batch.request_counts.processing == 4
    assert batch.expires_at > batch.created_at
    assert batch._request_id is not None and batch._request_id.startswith("req_")

    with pytest.raises(anthropic.AnthropicError, match="No `results_url`"):
        sdk.messages.batches.results(batch.id)

    sdk_emu.advance(60)
    ended = sdk.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert ended.ended_at is not None
    assert ended.request_counts.succeeded == 3
    assert ended.request_counts.errored == 1

    lines = {line.custom_id: line for line in sdk.messages.batches.results(batch.id)}
    assert set(lines) == {"q0", "q1", "q2", "broken"}
    ok = lines["q0"].result
    assert ok.type == "succeeded"
    assert ok.message.content[0].type == "text"
    assert ok.message.content[0].text == "Paris"
    assert ok.message.usage.service_tier == "batch"
    bad = lines["broken"].result
    assert bad.type == "errored"
    assert bad.error.error.type == "not_found_error"

    deleted = sdk.messages.batches.delete(batch.id)
    assert deleted.id == batch.id
    assert deleted.type == "message_batch_deleted"
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.batches.retrieve(batch.id)


def test_list_paginates_over_all_pages(sdk: anthropic.Anthropic, sdk_emu: Emulator) -> None:
    created = [sdk.messages.batches.create(requests=_requests(1)).id for _ in range(5)]  # type: ignore[arg-type]
    first = sdk.messages.batches.list(limit=2)
    assert [b.id for b in first.data] == created[::-1][:2]
    assert first.has_more is True
    seen = [b.id for b in first]
    assert seen == created[::-1]
    assert sdk_emu.calls["list"] == 3  # pages of 2 + 2 + 1


def test_cancel(sdk: anthropic.Anthropic, sdk_emu: Emulator) -> None:
    batch = sdk.messages.batches.create(requests=_requests(2))  # type: ignore[arg-type]
    canceling = sdk.messages.batches.cancel(batch.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    ended = sdk.messages.batches.retrieve(batch.id)
    assert ended.processing_status == "ended"
    assert ended.request_counts.canceled == 2
    kinds = {line.result.type for line in sdk.messages.batches.results(batch.id)}
    assert kinds == {"canceled"}


def test_errors_map_to_sdk_exceptions(sdk_emu: Emulator) -> None:
    wrong = anthropic.Anthropic(api_key="wrong", base_url=sdk_emu.base_url, max_retries=0)
    with wrong, pytest.raises(anthropic.AuthenticationError):
        wrong.messages.batches.list()
    sdk = anthropic.Anthropic(api_key="test", base_url=sdk_emu.base_url, max_retries=0)
    with sdk:
        with pytest.raises(anthropic.BadRequestError) as bad:
            sdk.messages.batches.create(requests=[])
        assert bad.value.body is not None
        assert "at least 1 item" in str(bad.value)
        assert bad.value.request_id is not None


def test_sdk_retries_honour_fault_headers(sdk_emu: Emulator) -> None:
    from batchwork_prefect.emulator import Fault

    sdk_emu.add_fault(Fault(route="list", status=529, retry_after_ms=1))
    sdk_emu.add_fault(Fault(route="list", status=429, retry_after_ms=1))
    with anthropic.Anthropic(api_key="test", base_url=sdk_emu.base_url, max_retries=2) as sdk:
        assert sdk.messages.batches.list().data == []
    assert sdk_emu.calls["list"] == 3
    received = [headers for route, headers in sdk_emu.requests_received if route == "list"]
    assert [h["x-stainless-retry-count"] for h in received] == ["0", "1", "2"]
    # the SDK authenticates with x-api-key or (2.x) authorization: Bearer; both are accepted
    keys = {h.get("x-api-key") or h["authorization"].removeprefix("Bearer ") for h in received}
    assert keys == {"test"}


def test_request_failing_once_succeeds_when_resubmitted(
    sdk: anthropic.Anthropic, sdk_emu: Emulator
) -> None:
    marked = [
        {
            "custom_id": custom_id,
            "params": {
                "model": MODEL,
                "max_tokens": 32,
                "messages": [{"role": "user", "content": text}],
            },
        }
        for custom_id, text in [
            ("retry0", "[[emulate:errored:overloaded_error:x1]]"),
            ("retry1", "[[emulate:expired:x1]]"),
        ]
    ]
    outcomes = []
    for _ in range(2):
        batch = sdk.messages.batches.create(requests=marked)  # type: ignore[arg-type]
        sdk_emu.advance(60)
        outcomes.append(
            {line.custom_id: line.result for line in sdk.messages.batches.results(batch.id)}
        )
    first, second = outcomes
    assert first["retry0"].type == "errored"
    assert first["retry0"].error.error.type == "overloaded_error"
    assert first["retry1"].type == "expired"
    assert second["retry0"].type == second["retry1"].type == "succeeded"
    assert (sdk_emu.submissions("retry0"), sdk_emu.submissions("retry1")) == (2, 2)
