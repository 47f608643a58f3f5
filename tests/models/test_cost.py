"""`BatchResults.cost`: each provider's usage mapped to genai-prices' shape and priced at
Batch API prices; a model the price data does not know is None with its reason, never 0."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

import genai_prices
import orjson
import pydantic
import pytest
from genai_prices import data_snapshot, types

from batchwork_prefect import BatchCost, BatchResult, BatchResults, ResultError, ResultStatus, Usage
from batchwork_prefect.pricing import BATCH_PRICES, plain, whole_input

PRICED_BY = f"genai-prices {genai_prices.__version__}"
MILLION = Decimal(1_000_000)


def _direct(model: str, usages: list[Usage]) -> Decimal:
    """What genai-prices itself charges for each usage at batch prices, added up."""
    provider, _, name = model.partition("/")
    total = Decimal(0)
    for usage in usages:
        whole, written, read, output = whole_input(provider, usage)
        total += genai_prices.calc_price(
            genai_prices.Usage(
                input_tokens=whole,
                cache_write_tokens=written,
                cache_read_tokens=read,
                output_tokens=output,
            ),
            name,
            provider_id=provider,
            price_context=BATCH_PRICES,
        ).total_price
    return total


def _results(model: str | None, *usages: Usage | None) -> BatchResults:
    return BatchResults(
        batch_ids=["b1"],
        model=model,
        results=[
            BatchResult(custom_id=f"r{index}", status=ResultStatus.SUCCEEDED, usage=usage)
            for index, usage in enumerate(usages)
        ],
    )


def test_anthropic_input_leaves_the_cache_out_and_openai_s_includes_it() -> None:
    usage = Usage(
        input_tokens=1000,
        output_tokens=100,
        cache_creation_input_tokens=300,
        cache_read_input_tokens=200,
    )
    assert whole_input("anthropic", usage) == (1500, 300, 200, 100)
    assert whole_input("openai", usage) == (1000, 300, 200, 100)
    assert whole_input("groq", usage) == (1000, 300, 200, 100)


def test_an_anthropic_result_with_cache_writes_and_reads_by_hand() -> None:
    # claude-opus-4-8 at batch prices, per million: input 2.5, cache write 3.125,
    # cache read 0.25, output 12.5 (half the standard 5 / 6.25 / 0.5 / 25)
    usage = Usage(
        input_tokens=1000,
        output_tokens=100,
        cache_creation_input_tokens=300,
        cache_read_input_tokens=200,
    )
    cost = _results("anthropic/claude-opus-4-8", usage).cost
    assert cost is not None
    assert cost.input == 1000 * Decimal("2.5") / MILLION
    assert cost.cache_write == 300 * Decimal("3.125") / MILLION
    assert cost.cache_read == 200 * Decimal("0.25") / MILLION
    assert cost.output == 100 * Decimal("12.5") / MILLION
    assert cost.total == Decimal("0.0047375")
    assert cost.total == _direct("anthropic/claude-opus-4-8", [usage])
    assert (cost.results_priced, cost.priced_by) == (1, PRICED_BY)


def test_an_openai_result_s_cached_tokens_are_part_of_its_input_by_hand() -> None:
    # gpt-5-mini at batch prices, per million: input 0.125, cached input 0.0125, output 1
    usage = Usage(input_tokens=1000, output_tokens=50, cache_read_input_tokens=400)
    cost = _results("openai/gpt-5-mini", usage).cost
    assert cost is not None
    assert cost.input == 600 * Decimal("0.125") / MILLION  # the uncached 600 only
    assert cost.cache_read == 400 * Decimal("0.0125") / MILLION
    assert cost.cache_write == 0
    assert cost.output == 50 * Decimal(1) / MILLION
    assert cost.total == Decimal("0.00013") == _direct("openai/gpt-5-mini", [usage])


@pytest.mark.parametrize(
    "model",
    [
        "anthropic/claude-opus-4-8",
        "anthropic/claude-haiku-4-5",
        "openai/gpt-4.1-mini",
        "openai/gpt-4o-mini",
        "groq/openai/gpt-oss-120b",
    ],
)
def test_many_results_cost_what_genai_prices_charges_for_each(model: str) -> None:
    usages = [
        Usage(
            input_tokens=100 + 37 * index,
            output_tokens=20 + index,
            cache_creation_input_tokens=(0 if model.startswith(("openai", "groq")) else 5 * index),
            cache_read_input_tokens=3 * index,
        )
        for index in range(40)
    ]
    cost = _results(model, *usages).cost
    assert cost is not None
    assert cost.total == _direct(model, usages)
    assert cost.total == cost.input + cost.cache_write + cost.cache_read + cost.output
    assert cost.results_priced == 40


def test_the_batch_price_is_half_the_standard_one() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    cost = _results("openai/gpt-4.1-mini", usage).cost
    standard = genai_prices.calc_price(
        genai_prices.Usage(input_tokens=1_000_000, output_tokens=1_000_000),
        "gpt-4.1-mini",
        provider_id="openai",
    ).total_price
    assert cost is not None and cost.total == Decimal("1.00") and standard == Decimal("2.00")


def test_each_result_is_priced_at_its_own_long_context_tier() -> None:
    # claude-sonnet-4-5 charges more per token for a request past 200,000 input tokens
    short = Usage(input_tokens=1000, output_tokens=100, cache_read_input_tokens=50)
    long = Usage(input_tokens=250_000, output_tokens=100, cache_creation_input_tokens=70)
    model = "anthropic/claude-sonnet-4-5"
    cost = _results(model, short, long, short).cost
    assert cost is not None
    assert cost.total == _direct(model, [short, long, short])
    assert cost.total == cost.input + cost.cache_write + cost.cache_read + cost.output
    summed = _direct(model, [short + long + short])  # all three as one request: the high tier
    assert cost.total < summed


def test_results_without_usage_cost_nothing_and_are_not_counted() -> None:
    usage = Usage(input_tokens=10, output_tokens=2)
    results = _results("anthropic/claude-opus-4-8", usage)
    results.results.append(
        BatchResult(
            custom_id="bad",
            status=ResultStatus.ERRORED,
            error=ResultError(type="overloaded_error", message="later"),
        )
    )
    results.results.append(BatchResult(custom_id="late", status=ResultStatus.EXPIRED))
    cost = results.cost
    assert cost is not None and cost.results_priced == 1
    assert cost.total == _direct("anthropic/claude-opus-4-8", [usage]) > 0


def test_results_with_no_usage_at_all_cost_zero_for_a_known_model() -> None:
    results = _results("anthropic/claude-opus-4-8", None, None)
    cost = results.cost
    assert cost is not None and cost.total == 0 and cost.results_priced == 0


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("anthropic/claude-x", f"{PRICED_BY} does not know the model 'anthropic/claude-x'"),
        ("openai/no-such-model", f"{PRICED_BY} does not know the model 'openai/no-such-model'"),
        # known, but without a Batch API price: its standard price would be twice too much
        ("anthropic/claude-sonnet-4-0", f"{PRICED_BY} has no Batch API price for"),
        ("groq/llama-3.1-8b-instant", f"{PRICED_BY} has no Batch API price for"),
        ("cohere/command-r", "no usage mapping for the provider of 'cohere/command-r'"),
        (None, "the results do not name their model"),
    ],
)
def test_a_model_the_prices_do_not_cover_is_none_with_its_reason(
    model: str | None, reason: str
) -> None:
    results = _results(model, Usage(input_tokens=10, output_tokens=2), None)
    assert results.cost is None
    assert results.unpriced_reason is not None and results.unpriced_reason.startswith(reason)
    assert _results(model).cost is None  # no usage to price is no excuse for a 0


def test_a_priced_result_has_no_unpriced_reason() -> None:
    assert _results("openai/gpt-4o-mini", Usage(input_tokens=1)).unpriced_reason is None


def test_more_cached_than_input_tokens_is_not_priced() -> None:
    results = _results("openai/gpt-5-mini", Usage(input_tokens=10, cache_read_input_tokens=11))
    assert results.cost is None
    assert results.unpriced_reason == "a result counts more cached tokens than input tokens"


def test_the_cost_follows_a_changed_model_and_appended_results() -> None:
    results = _results("anthropic/claude-x", Usage(input_tokens=10))
    assert results.cost is None
    results.model = "anthropic/claude-opus-4-8"
    first = results.cost
    assert first is not None and first.results_priced == 1
    results.results.append(BatchResult(custom_id="new", status="succeeded", usage=Usage()))
    again = results.cost
    assert again is not None and again.results_priced == 2


def test_costs_add_up_across_results_of_several_rounds() -> None:
    model = "anthropic/claude-opus-4-8"
    first = _results(model, Usage(input_tokens=10, output_tokens=3))
    second = _results(model, Usage(input_tokens=7, cache_read_input_tokens=4, output_tokens=1))
    assert first.cost is not None and second.cost is not None
    added = first.cost + second.cost
    joined = BatchResults.concat([first, second])
    assert joined.model == model
    assert added == joined.cost
    assert sum([first.cost, second.cost]) == added
    assert added.results_priced == 2 and added.priced_by == PRICED_BY


def test_joined_results_of_different_models_name_none() -> None:
    first = _results("anthropic/claude-opus-4-8", Usage(input_tokens=10))
    other = _results("anthropic/claude-haiku-4-5", Usage(input_tokens=10))
    joined = BatchResults.concat([first, other])
    assert joined.model is None and joined.cost is None
    assert joined.unpriced_reason is not None and "different models" in joined.unpriced_reason
    assert BatchResults.concat([first, _results(None)]).model is None


def test_a_cost_says_its_total_and_where_the_prices_came_from() -> None:
    cost = BatchCost(
        total=Decimal("0.0000001"),
        input=Decimal("0.0000001"),
        cache_write=Decimal(0),
        cache_read=Decimal(0),
        output=Decimal(0),
        results_priced=1,
        priced_by=PRICED_BY,
    )
    assert cost.describe() == f"$0.0000001 for 1 results at Batch API prices ({PRICED_BY})"
    assert cost.model_dump(mode="json")["total"] == "0.0000001"  # as JSON: no exponent
    assert [plain(Decimal(text)) for text in ("0.00380", "100", "1E+2", "0E-7")] == [
        "0.0038",
        "100",
        "100",
        "0",
    ]
    assert BatchCost.model_validate_json(cost.model_dump_json()) == cost


def test_the_model_is_kept_through_persisted_json() -> None:
    results = _results("openai/gpt-4o-mini", Usage(input_tokens=12, output_tokens=3))
    fast = results.model_dump_json()
    assert orjson.loads(fast)["model"] == "openai/gpt-4o-mini"
    assert orjson.loads(fast) == orjson.loads(pydantic.BaseModel.model_dump_json(results))
    loaded = BatchResults.model_validate_json(fast)
    assert loaded.model == "openai/gpt-4o-mini" and loaded == results
    assert loaded.cost == results.cost is not None
    slow = BatchResults.model_validate_json(fast, strict=False)  # pydantic's own reading
    assert slow.model == "openai/gpt-4o-mini"


def test_a_record_written_without_a_model_loads_unpriced() -> None:
    data = orjson.loads(_results("openai/gpt-4o-mini", Usage(input_tokens=12)).model_dump_json())
    del data["model"]
    loaded = BatchResults.model_validate_json(orjson.dumps(data))
    assert loaded.model is None and len(loaded) == 1
    assert loaded.cost is None
    assert loaded.unpriced_reason is not None
    assert loaded.unpriced_reason.startswith("the results do not name their model")


def test_a_persisted_model_that_is_not_a_name_is_refused() -> None:
    data = orjson.loads(_results("openai/gpt-4o-mini", Usage(input_tokens=12)).model_dump_json())
    data["model"] = 5
    with pytest.raises(pydantic.ValidationError, match="model"):
        BatchResults.model_validate_json(orjson.dumps(data))


@contextmanager
def _price_data(model: types.ModelInfo, *, updated: bool = False) -> Iterator[None]:
    """genai-prices' data replaced by one Anthropic model, as its own updater replaces it."""
    bundled = next(p for p in data_snapshot.get_snapshot().providers if p.id == "anthropic")
    snapshot = data_snapshot.DataSnapshot(
        providers=[dataclasses.replace(bundled, models=[model])], from_auto_update=updated
    )
    data_snapshot.set_custom_snapshot(snapshot)
    try:
        yield
    finally:
        data_snapshot.set_custom_snapshot(None)


def _model(
    prices: types.ModelPrice,
    batch: types.ModelPrice,
    constraint: types.StartDateConstraint | None = None,
) -> types.ModelInfo:
    return types.ModelInfo(
        id="claude-test",
        match=types.ClauseEquals(equals="claude-test"),
        prices=prices,
        price_variants=[types.PriceVariant(BATCH_PRICES, batch, constraint)],
    )


STANDARD = types.ModelPrice(input_mtok=Decimal(2), output_mtok=Decimal(4))
HALF = types.ModelPrice(input_mtok=Decimal(1), output_mtok=Decimal(2))


def test_updated_price_data_says_when_it_was_updated() -> None:
    with _price_data(_model(STANDARD, HALF), updated=True):
        cost = _results("anthropic/claude-test", Usage(input_tokens=10**6)).cost
    assert cost is not None and cost.total == 1
    assert cost.priced_by.startswith(f"{PRICED_BY}, prices updated ")


def test_a_batch_price_not_yet_in_force_is_no_batch_price() -> None:
    later = types.StartDateConstraint(start_date=date(2999, 1, 1))
    with _price_data(_model(STANDARD, HALF, later)):
        results = _results("anthropic/claude-test", Usage(input_tokens=10))
        assert results.cost is None
    assert results.unpriced_reason == (
        f"{PRICED_BY} has no Batch API price for 'anthropic/claude-test'"
    )


def test_a_price_per_request_is_not_priced_in_groups() -> None:
    per_request = types.ModelPrice(input_mtok=Decimal(1), requests_kcount=Decimal(3))
    with _price_data(_model(STANDARD, per_request)):
        results = _results("anthropic/claude-test", Usage(input_tokens=10), Usage())
        assert results.cost is None
    assert results.unpriced_reason == (
        f"{PRICED_BY} charges 'anthropic/claude-test' per request, which is not priced here"
    )


def test_price_data_genai_prices_refuses_is_unpriced_not_a_failed_read() -> None:
    broken = types.ModelPrice(input_mtok=Decimal(-1), output_mtok=Decimal(2))
    with _price_data(_model(STANDARD, broken)):
        results = _results("anthropic/claude-test", Usage(input_tokens=10))
        assert results.cost is None
    reason = results.unpriced_reason
    assert reason is not None
    assert reason.startswith(f"{PRICED_BY} could not price 'anthropic/claude-test': ValueError")
