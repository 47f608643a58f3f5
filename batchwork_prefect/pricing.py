"""What results cost at Batch API prices, priced by genai-prices (imported on first use).

genai-prices takes the whole input with the cache writes and reads as parts of it. Providers
count differently: Anthropic's `input_tokens` leaves the cache writes and reads out, OpenAI's
and Groq's (`prompt_tokens`) include the cached tokens. Each usage is mapped to the whole
input first (`whole_input`). A provider whose batches pay its standard prices, halved for
the models its batch docs list (Together's, `ProviderEntry.batch_discounted`), is priced
from genai-prices' standard prices so. Results are priced in groups whose members share a price tier
(the long-context tiers depend on each request's own input), each group's counts added up.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from batchwork_prefect.registry import PROVIDERS

if TYPE_CHECKING:
    from genai_prices.types import ModelPrice, TieredPrices

    from batchwork_prefect.usage import Usage

_T = TypeVar("_T")

BATCH_PRICES = {"processing": "batch"}
"""The genai-prices context that selects a model's Batch API prices."""


_ZERO = Decimal(0)


class BatchCost(BaseModel):
    """What results cost at Batch API prices, in US dollars; `a + b` adds two costs up.

    `total` is `input + cache_write + cache_read + output`; `input` is the uncached input.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)

    total: Decimal = Field(description="US dollars, all parts.")
    input: Decimal = Field(description="US dollars for the input tokens not cached.")
    cache_write: Decimal = Field(description="US dollars for the cache writes.")
    cache_read: Decimal = Field(description="US dollars for the cache reads.")
    output: Decimal = Field(description="US dollars for the output tokens.")
    results_priced: int = Field(ge=0, description="How many results had usage to price.")
    priced_by: str = Field(description="The price data, e.g. 'genai-prices 0.2.5'.")

    @field_serializer("total", "input", "cache_write", "cache_read", "output", when_used="json")
    def _as_json(self, amount: Decimal) -> str:
        return plain(amount)

    def __add__(self, other: BatchCost) -> BatchCost:
        if not isinstance(other, BatchCost):
            return NotImplemented
        sources = dict.fromkeys([*self.priced_by.split(", "), *other.priced_by.split(", ")])
        return BatchCost(
            total=self.total + other.total,
            input=self.input + other.input,
            cache_write=self.cache_write + other.cache_write,
            cache_read=self.cache_read + other.cache_read,
            output=self.output + other.output,
            results_priced=self.results_priced + other.results_priced,
            priced_by=", ".join(sources),
        )

    def __radd__(self, other: object) -> BatchCost:
        if other == 0:  # sum() starts from 0
            return self
        return NotImplemented

    def describe(self) -> str:
        """One line: the total and where the prices came from."""
        return (
            f"${plain(self.total)} for {self.results_priced} results at Batch API prices "
            f"({self.priced_by})"
        )


def plain(amount: Decimal) -> str:
    """Dollars as plain digits, no exponent and no trailing zeros: "0.0000001", "0.0038"."""
    digits = f"{amount:f}"
    return digits.rstrip("0").rstrip(".") if "." in digits else digits


class Unpriced:
    """Why results could not be priced."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Unpriced({self.reason!r})"


def whole_input(provider: str, usage: Usage) -> tuple[int, int, int, int]:
    """`(whole input, cache writes, cache reads, output)` of one result, as genai-prices
    counts them: the cache counts are parts of the whole input."""
    written, read = usage.cache_creation_input_tokens, usage.cache_read_input_tokens
    whole = usage.input_tokens
    if not PROVIDERS[provider].input_includes_cache:
        whole += written + read
    return whole, written, read, usage.output_tokens


def price_usages(model: str | None, usages: Iterable[Usage]) -> BatchCost | Unpriced:
    """The Batch API cost of these results' usage for `model` ("provider/model").

    A model genai-prices does not know, or knows without a Batch API price, is `Unpriced`,
    never a cost of 0; so is usage that counts more cached tokens than input tokens.
    """
    named = _named(model)
    if isinstance(named, Unpriced):
        return named
    provider, name = named
    return _guarded(named, lambda: _priced(f"{provider}/{name}", provider, name, usages))


def price_each(model: str | None, usages: Sequence[Usage | None]) -> list[Decimal] | Unpriced:
    """Each usage's own Batch API cost for `model` (0 for None: a result not billed), with
    the prices looked up once; `Unpriced` as `price_usages` says it. Each cost is what
    `price_usages` gives that usage alone, so they add up to the whole batch's cost."""
    named = _named(model)
    if isinstance(named, Unpriced):
        return named
    return _guarded(named, lambda: _each(named, usages))


def _named(model: str | None) -> tuple[str, str] | Unpriced:
    """`(provider, name)` of a model that can be priced, else why not."""
    if model is None:
        return Unpriced(
            "the results do not name their model (persisted by an earlier version, joined "
            "from batches of different models, or from get_batch() without model=)"
        )
    provider, _, name = model.partition("/")
    if provider not in PROVIDERS or not name:
        return Unpriced(f"no usage mapping for the provider of {model!r}")
    return provider, name


def _guarded(named: tuple[str, str], price: Callable[[], _T]) -> _T | Unpriced:
    """`price()`, or `Unpriced` naming a flaw in the price data: it must not fail a read."""
    import genai_prices  # with its price data, about 0.15 s to load: only when asked for

    try:
        return price()
    except Exception as exc:
        model = "/".join(named)
        return Unpriced(
            f"genai-prices {genai_prices.__version__} could not price {model!r}: "
            f"{type(exc).__name__}: {exc}"
        )


def _each(named: tuple[str, str], usages: Sequence[Usage | None]) -> list[Decimal] | Unpriced:
    provider, name = named
    found = _batch_prices(f"{provider}/{name}", provider, name, datetime.now(UTC))
    if isinstance(found, Unpriced):
        return found
    prices = found[0]
    starts = _tier_starts(prices)
    rates: dict[int, tuple[Decimal, Decimal, Decimal, Decimal]] = {}
    costs = []
    for usage in usages:
        if usage is None:
            costs.append(_ZERO)
            continue
        whole, written, read, output = whole_input(provider, usage)
        if written + read > whole:
            return Unpriced("a result counts more cached tokens than input tokens")
        index = bisect.bisect_left(starts, whole)
        rate = rates.get(index)
        if rate is None:
            rate = rates[index] = _rates(_at_tier(prices, starts[index - 1] + 1 if index else 0))
        costs.append(
            (rate[0] * whole + rate[1] * written + rate[2] * read + rate[3] * output) / _MILLION
        )
    return costs


_MILLION = Decimal(1_000_000)


def _rates(flat: ModelPrice) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """What a million tokens of each count add to a cost at `flat` prices: whole input,
    cache writes and cache reads (beyond the input price they are part of), output. Read
    from genai-prices' own `calc_price`, which is linear in each count, so a usage priced
    with them costs what `calc_price` would say, without its per-call cost (~0.2 ms)."""
    import genai_prices

    million = 1_000_000

    def total(**counts: int) -> Decimal:
        price: Decimal = flat.calc_price(genai_prices.Usage(**counts))["total_price"]
        return price

    base = total(input_tokens=million)
    return (
        base,
        total(input_tokens=million, cache_write_tokens=million) - base,
        total(input_tokens=million, cache_read_tokens=million) - base,
        total(output_tokens=million),
    )


def _tier_starts(prices: ModelPrice) -> list[int]:
    """Where the price tiers of `prices` start, in order (none for flat prices)."""
    from genai_prices.types import TieredPrices

    return sorted(
        {
            tier.start
            for price in vars(prices).values()
            if isinstance(price, TieredPrices)
            for tier in price.tiers
        }
    )


def _priced(model: str, provider: str, name: str, usages: Iterable[Usage]) -> BatchCost | Unpriced:
    import genai_prices

    now = datetime.now(UTC)
    found = _batch_prices(model, provider, name, now)
    if isinstance(found, Unpriced):
        return found
    prices, priced_by = found
    if getattr(prices, "requests_kcount", None) is not None:
        # charged once per calculation, and results are priced in groups
        return Unpriced(f"{priced_by} charges {model!r} per request, which is not priced here")
    starts = _tier_starts(prices)
    # one group per price tier: [results, whole input, cache writes, cache reads, output]
    groups = [[0, 0, 0, 0, 0] for _ in range(len(starts) + 1)]
    for usage in usages:
        whole, written, read, output = whole_input(provider, usage)
        if written + read > whole:
            return Unpriced("a result counts more cached tokens than input tokens")
        group = groups[bisect.bisect_left(starts, whole)]  # the tiers whose start it passes
        group[0] += 1
        group[1] += whole
        group[2] += written
        group[3] += read
        group[4] += output
    parts = [_ZERO, _ZERO, _ZERO, _ZERO]
    for index, (count, whole, written, read, output) in enumerate(groups):
        if count == 0:
            continue
        summed = genai_prices.Usage(
            input_tokens=whole,
            cache_write_tokens=written,
            cache_read_tokens=read,
            output_tokens=output,
        )
        # the group's tier chosen by genai-prices, then its summed counts priced at it
        in_tier = starts[index - 1] + 1 if index else 0
        flat = _at_tier(prices, in_tier)
        price = flat.calc_price(summed)
        written_price = _one_price(flat, "cache_write_mtok", summed)
        read_price = _one_price(flat, "cache_read_mtok", summed)
        parts[0] += price["input_price"] - written_price - read_price
        parts[1] += written_price
        parts[2] += read_price
        parts[3] += price["output_price"]
    return BatchCost(
        total=sum(parts, _ZERO),
        input=parts[0],
        cache_write=parts[1],
        cache_read=parts[2],
        output=parts[3],
        results_priced=sum(group[0] for group in groups),
        priced_by=priced_by,
    )


def _batch_prices(
    model: str, provider: str, name: str, now: datetime
) -> tuple[ModelPrice, str] | Unpriced:
    """The model's Batch API prices (its `ModelPrice` at `now`) and what they came from."""
    import genai_prices

    priced_by = f"genai-prices {genai_prices.__version__}"
    try:
        found = genai_prices.calc_price(
            genai_prices.Usage(),
            name,
            provider_id=PROVIDERS[provider].prices_id or provider,
            genai_request_timestamp=now,
            price_context=BATCH_PRICES,
        )
    except LookupError:
        return Unpriced(f"{priced_by} does not know the model {model!r}")
    if found.auto_update_timestamp is not None:
        priced_by += f", prices updated {found.auto_update_timestamp:%Y-%m-%d %H:%M}"
    # Without a batch variant genai-prices gives the standard prices (twice the batch
    # ones); a model found through another provider's list ignores the context too.
    batch = any(
        variant.when == BATCH_PRICES
        and (variant.constraint is None or variant.constraint.active(now))
        for variant in found.model.price_variants or ()
    )
    discounted = PROVIDERS[provider].batch_discounted
    if not any(listed is found.model for listed in found.provider.models) or (
        not batch and discounted is None
    ):
        return Unpriced(f"{priced_by} has no Batch API price for {model!r}")
    if batch or discounted is None:
        return found.model_price, priced_by
    # The provider's batches pay its standard prices, halved for the models it lists.
    label = PROVIDERS[provider].label
    if name in discounted:
        priced_by += f", {label}'s standard prices at its 50% batch discount"
        return _scaled(found.model_price, _HALF), priced_by
    return found.model_price, priced_by + f", {label}'s standard prices (no batch discount)"


_HALF = Decimal("0.5")


def _scaled(prices: ModelPrice, factor: Decimal) -> ModelPrice:
    """`prices` with every price (each tier's too) multiplied by `factor`."""
    from genai_prices.types import ModelPrice, Tier, TieredPrices

    def scaled(price: Decimal | TieredPrices) -> Decimal | TieredPrices:
        if isinstance(price, TieredPrices):
            tiers = [Tier(start=tier.start, price=tier.price * factor) for tier in price.tiers]
            return TieredPrices(base=price.base * factor, tiers=tiers)
        return price * factor

    return ModelPrice(**{key: scaled(price) for key, price in _price_items(prices)})


def _at_tier(prices: ModelPrice, whole_input: int) -> ModelPrice:
    """`prices` with each tiered price replaced by the one genai-prices applies to a
    request of `whole_input` tokens, so a group's summed counts are priced at its tier."""
    from genai_prices.types import ModelPrice, TieredPrices, calc_unit_price

    return ModelPrice(
        **{
            key: calc_unit_price(price, 1, whole_input, 1)
            if isinstance(price, TieredPrices)
            else price
            for key, price in _price_items(prices)
        }
    )


def _one_price(prices: ModelPrice, key: str, usage: object) -> Decimal:
    """What one price key of `prices` charges for `usage` (the others set to 0)."""
    from genai_prices.types import ModelPrice

    if getattr(prices, key) is None:
        return _ZERO
    only = {other: price if other == key else _ZERO for other, price in _price_items(prices)}
    return ModelPrice(**only).calc_price(usage)["total_price"]


def _price_items(prices: ModelPrice) -> list[tuple[str, Decimal | TieredPrices]]:
    """The prices a `ModelPrice` sets, by price key."""
    return [
        (key, price)
        for key, price in vars(prices).items()
        if price is not None and not key.startswith("_")
    ]
