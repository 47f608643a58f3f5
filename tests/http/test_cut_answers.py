"""An answer cut before its end: asked for again, or, for a create, a lost answer."""

from __future__ import annotations

import pytest

from batchwork_prefect import ProviderError, SubmissionOutcomeUnknown, TransportError
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.providers.anthropic import AnthropicProvider, encode_request
from tests.support import API_KEY

ENTRY = encode_request(
    "a", {"model": "claude-x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
)


def _provider(emulator: Emulator, **options: object) -> AnthropicProvider:
    return AnthropicProvider(
        api_key=API_KEY,
        base_url=emulator.base_url,
        sleep=lambda _: None,
        **options,  # type: ignore[arg-type]
    )


def test_a_cut_answer_to_a_get_is_asked_for_again(emulator: Emulator) -> None:
    provider = _provider(emulator)
    created = provider.create([ENTRY], digest="d")
    emulator.add_fault(Fault(route="retrieve", truncate_after_bytes=5, times=2))
    assert provider.retrieve(created.id).id == created.id
    assert emulator.calls["retrieve"] == 3


def test_an_answer_cut_every_time_is_a_transport_error(emulator: Emulator) -> None:
    provider = _provider(emulator, max_retries=1)
    created = provider.create([ENTRY], digest="d")
    emulator.add_fault(Fault(route="retrieve", truncate_after_bytes=5, times=2))
    with pytest.raises(TransportError, match="kept being cut"):
        provider.retrieve(created.id)


def test_a_cut_create_answer_is_an_unknown_outcome_never_resent(emulator: Emulator) -> None:
    provider = _provider(emulator)
    emulator.add_fault(Fault(route="create", truncate_after_bytes=5, after_create=True))
    with pytest.raises(SubmissionOutcomeUnknown):
        provider.create([ENTRY], digest="d")
    assert emulator.calls["create"] == 1
    assert emulator.batches_created == 1


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_one_budget_covers_failed_sends_and_cut_answers_alike(
    emulator: Emulator, max_retries: int
) -> None:
    # overloaded answers, then cut ones, forever: the GET is sent max_retries + 1 times in
    # all, never (max_retries + 1) squared, a send loop inside a read loop
    provider = _provider(emulator, max_retries=max_retries)
    created = provider.create([ENTRY], digest="d")
    emulator.add_fault(Fault(route="retrieve", status=529, times=2))
    emulator.add_fault(Fault(route="retrieve", truncate_after_bytes=5, times=100))
    with pytest.raises((ProviderError, TransportError)):  # the last answer's failure
        provider.retrieve(created.id)
    assert emulator.calls["retrieve"] == max_retries + 1
