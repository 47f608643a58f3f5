"""docs/providers.md promises about the gemini provider that no other test pins, checked
through `batch()`, `get_batch()`, `list_batches()` over loopback HTTP to the emulator: the
public calls, refusals before anything is sent, typed results, limits, prices."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from batchwork_prefect import (
    InvalidBatchError,
    ResultStatus,
    batch,
    get_batch,
    list_batches,
)
from batchwork_prefect.core import BatchJob
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.pricing import Unpriced, price_usages
from batchwork_prefect.providers.gemini import INLINE_MAX_BYTES, LIMITS, GeminiFormat
from batchwork_prefect.usage import Usage
from tests.support import API_KEY

MODEL = "gemini/gemini-2.5-flash"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(api_key=API_KEY, time_scale=0) as server:
        yield server


def _batch(emu: Emulator, requests: list[dict[str, Any]], **options: Any) -> BatchJob:
    return batch(MODEL, requests, api_key=API_KEY, base_url=emu.base_url_for("gemini"), **options)


def test_batch_get_batch_and_list_batches_take_gemini(emu: Emulator) -> None:
    job = _batch(emu, [{"custom_id": "a", "prompt": "Hi"}], defaults={"max_tokens": 8})
    assert job.provider == "gemini" and job.id.startswith("batches/")
    job.wait(poll_interval=0.01)
    again = get_batch(
        job.id, provider="gemini", api_key=API_KEY, base_url=emu.base_url_for("gemini")
    )
    assert again.collect()["a"].status is ResultStatus.SUCCEEDED
    listed = list_batches("gemini", api_key=API_KEY, base_url=emu.base_url_for("gemini"))
    assert [snapshot.id for snapshot in listed] == [job.id]


@pytest.mark.parametrize(
    ("request_fields", "fix"),
    [
        ({"params": {"thinking": {"type": "enabled"}}}, "thinkingConfig"),
        ({"params": {"frequency_penalty": 1}}, "GenerateContentRequest field"),
        ({"stop_sequences": ["1", "2", "3", "4", "5", "6"]}, "at most 5"),
    ],
)
def test_what_gemini_cannot_take_is_refused_before_anything_is_sent(
    emu: Emulator, request_fields: dict[str, Any], fix: str
) -> None:
    with pytest.raises(InvalidBatchError, match=fix):
        _batch(emu, [{"custom_id": "a", "prompt": "Hi", **request_fields}])
    assert sum(emu.calls.values()) == 0


class Capital(BaseModel):
    city: str


def test_typed_results_ask_for_json_with_the_output_types_schema(emu: Emulator) -> None:
    job = _batch(emu, [{"custom_id": "fr", "prompt": "Capital of France?"}], output=Capital)
    job.wait(poll_interval=0.01)
    result = job.collect()["fr"]
    assert result.status is ResultStatus.SUCCEEDED
    assert isinstance(result.parsed, Capital)


def test_the_limits_and_the_inline_threshold() -> None:
    assert (LIMITS.max_requests, LIMITS.max_bytes) == (100_000, 2_000_000_000)
    assert GeminiFormat().limits == LIMITS
    assert INLINE_MAX_BYTES == 20_000_000


def test_gemini_25_models_are_priced_at_batch_prices_and_20_flash_is_unpriced() -> None:
    usage = [Usage(input_tokens=1_000_000, output_tokens=1_000_000)]
    cost = price_usages("gemini/gemini-2.5-flash", usage)
    assert not isinstance(cost, Unpriced)
    assert cost.total == Decimal("1.40")  # half of the standard $0.30 + $2.50 per million
    assert isinstance(price_usages("gemini/gemini-2.0-flash", usage), Unpriced)


def test_cached_tokens_are_part_of_the_input_as_gemini_counts_them() -> None:
    whole = price_usages("gemini/gemini-2.5-flash", [Usage(input_tokens=1_000_000)])
    cached = price_usages(
        "gemini/gemini-2.5-flash",
        [Usage(input_tokens=1_000_000, cache_read_input_tokens=1_000_000)],
    )
    assert not isinstance(whole, Unpriced) and not isinstance(cached, Unpriced)
    assert cached.total < whole.total  # the same million tokens, read from the cache
