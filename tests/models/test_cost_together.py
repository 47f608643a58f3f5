"""Together's batches at Batch API prices: genai-prices has Together's standard prices and no
batch ones; its batch docs halve them for the models they list, and every other model
pays the standard price."""

from __future__ import annotations

from decimal import Decimal

import genai_prices
import pytest

from batchwork_prefect import BatchCost, BatchResult, BatchResults, ResultStatus, Usage
from batchwork_prefect.registry import PROVIDERS

USAGE = Usage(input_tokens=1_000_000, output_tokens=1_000_000, cache_read_input_tokens=0)


def _standard(name: str) -> Decimal:
    price = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1_000_000, output_tokens=1_000_000),
        name,
        provider_id="together",
    ).total_price
    return Decimal(price)


def _cost(model: str) -> BatchCost | None:
    results = BatchResults(
        batch_ids=["b1"],
        model=model,
        results=[BatchResult(custom_id="r0", status=ResultStatus.SUCCEEDED, usage=USAGE)],
    )
    return results.cost


def test_a_discounted_model_costs_half_its_standard_price() -> None:
    name = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    assert name in (PROVIDERS["together"].batch_discounted or ())
    cost = _cost(f"together/{name}")
    assert cost is not None
    assert cost.total == _standard(name) / 2 > 0
    assert "50% batch discount" in cost.priced_by


def test_a_model_without_the_discount_costs_its_standard_price() -> None:
    name = "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8"
    assert name not in (PROVIDERS["together"].batch_discounted or ())
    cost = _cost(f"together/{name}")
    assert cost is not None
    assert cost.total == _standard(name) > 0
    assert "no batch discount" in cost.priced_by


def test_a_model_genai_prices_does_not_know_is_unpriced() -> None:
    results = BatchResults(
        batch_ids=["b1"],
        model="together/no-such/model",
        results=[BatchResult(custom_id="r0", status=ResultStatus.SUCCEEDED, usage=USAGE)],
    )
    assert results.cost is None
    assert results.unpriced_reason is not None and "does not know" in results.unpriced_reason


@pytest.mark.parametrize("cached", [0, 400_000])
def test_together_input_counts_its_cached_tokens(cached: int) -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0, cache_read_input_tokens=cached)
    name = "meta-llama/Llama-3.3-70B-Instruct-Turbo"
    results = BatchResults(
        batch_ids=["b1"],
        model=f"together/{name}",
        results=[BatchResult(custom_id="r0", status=ResultStatus.SUCCEEDED, usage=usage)],
    )
    cost = results.cost
    assert cost is not None
    assert cost.input + cost.cache_read == _standard(name) / 4  # input is half of the two
