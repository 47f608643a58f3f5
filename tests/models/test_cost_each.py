"""`price_each`: each result's own cost, with the prices looked up once: the same as pricing
that result alone, and adding up to the whole batch's cost, on every tier."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect import Usage
from batchwork_prefect.pricing import Unpriced, price_each, price_usages

MODELS = [
    "anthropic/claude-sonnet-4-5",
    "openai/gpt-4o-mini",
    "openai/gpt-5-mini",
    "groq/openai/gpt-oss-120b",
]


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    # up to 400,000 input tokens: past the 200,000-token long-context tier where one exists
    written = draw(st.integers(0, 5_000))
    read = draw(st.integers(0, 5_000))
    return Usage(
        input_tokens=draw(st.integers(10_000, 400_000)),  # more than the cached counts
        output_tokens=draw(st.integers(0, 20_000)),
        cache_creation_input_tokens=written,
        cache_read_input_tokens=read,
    )


@given(st.sampled_from(MODELS), st.lists(st.one_of(st.none(), usages()), max_size=30))
def test_each_cost_is_the_result_s_own_and_they_add_up_to_the_batch_s(
    model: str, counts: list[Usage | None]
) -> None:
    each = price_each(model, counts)
    whole = price_usages(model, [one for one in counts if one is not None])
    assert not isinstance(whole, Unpriced), whole  # every model here has Batch API prices
    assert isinstance(each, list) and len(each) == len(counts)
    assert sum(each, Decimal(0)) == whole.total
    for usage, cost in zip(counts, each, strict=True):
        if usage is None:
            assert cost == 0  # not billed
        else:
            alone = price_usages(model, [usage])
            assert not isinstance(alone, Unpriced) and cost == alone.total


def test_a_model_without_batch_prices_is_unpriced_not_free() -> None:
    found = price_each("anthropic/no-such-model", [Usage(input_tokens=5)])
    assert isinstance(found, Unpriced) and "does not know" in found.reason
    assert isinstance(price_each(None, [None]), Unpriced)
