"""Requests beyond the provider's limits become several provider batches in one job."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from batchwork_prefect import (
    BatchStatus,
    PartialSubmissionError,
    ProviderError,
    batch,
    get_batch,
)
from batchwork_prefect.core import build_parts, submit_built
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.models import BatchSnapshot
from batchwork_prefect.providers import BatchLimits
from batchwork_prefect.providers.anthropic import AnthropicProvider
from tests.support import API_KEY

MODEL = "anthropic/claude-opus-4-8"
REQUESTS = [{"custom_id": f"q{i}", "prompt": f"question {i}"} for i in range(7)]


def test_one_job_over_several_batches(emulator: Emulator) -> None:
    job = batch(
        MODEL,
        REQUESTS,
        api_key=API_KEY,
        base_url=emulator.base_url,
        limits=BatchLimits(max_requests=3, max_bytes=10**6),
    )
    assert len(job.ids) == 3
    assert job.id == ",".join(job.ids)
    assert emulator.calls["create"] == 3
    assert job.request_counts.total == 7
    assert job.wait(poll_interval=0.01).status is BatchStatus.COMPLETED
    results = job.collect()
    assert sorted(results.texts()) == sorted(f"q{i}" for i in range(7))
    assert results.batch_ids == list(job.ids)
    assert {result.batch_id for result in results.values()} == set(job.ids)

    again = get_batch(job.id, api_key=API_KEY, base_url=emulator.base_url)
    assert again.ids == job.ids
    assert len(again.collect()) == 7


def test_split_by_bytes(emulator: Emulator) -> None:
    job = batch(
        MODEL,
        REQUESTS,
        api_key=API_KEY,
        base_url=emulator.base_url,
        limits=BatchLimits(max_requests=100, max_bytes=400),
    )
    assert len(job.ids) > 1
    assert emulator.batches_created == len(job.ids)


class _FailAfterFirstCreate:
    """A real provider whose emulator starts refusing creates after the first one."""

    def __init__(self, provider: AnthropicProvider, emulator: Emulator) -> None:
        self._provider = provider
        self._emulator = emulator
        self.name = provider.name
        self.limits = provider.limits

    def create(self, encoded: Sequence[bytes], *, digest: str) -> BatchSnapshot:
        snapshot = self._provider.create(encoded, digest=digest)
        self._emulator.add_fault(Fault(route="create", status=400))
        return snapshot

    def __getattr__(self, name: str) -> object:
        return getattr(self._provider, name)


def test_a_failure_part_way_names_the_batches_already_created(emulator: Emulator) -> None:
    provider = AnthropicProvider(api_key=API_KEY, base_url=emulator.base_url)
    built = build_parts(
        provider, "claude-x", REQUESTS, limits=BatchLimits(max_requests=3, max_bytes=10**6)
    )
    with pytest.raises(PartialSubmissionError) as caught:
        submit_built(_FailAfterFirstCreate(provider, emulator), built)  # type: ignore[arg-type]
    error = caught.value
    assert len(error.batch_ids) == 1 and error.failed_part == 1 and error.parts_total == 3
    assert isinstance(error.__cause__, ProviderError)
    assert emulator.batches_created == 1
    assert error.batch_ids[0] in str(error)
