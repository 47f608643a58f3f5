"""All results of a job: looked up by custom_id, added up, costed, merged over retry rounds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
)

from batchwork_prefect.models.results import BatchResult, ResultStatus
from batchwork_prefect.models.stored import load_stored, results_json
from batchwork_prefect.pricing import BatchCost, Unpriced, price_usages
from batchwork_prefect.usage import USAGE_FIELDS, Usage


class BatchResults(BaseModel):
    """All results of a job, with the provider batch ids they came from.

    `results["fr"]` looks a result up by `custom_id`; `len(results)`, `"fr" in results`,
    `results.values()` and `results.results` work as expected. `model` names the model
    ("provider/model") the results came from, which `cost` prices. It round-trips through
    `model_dump_json()` / `model_validate_json()`, which read and write 100,000 results at
    about the speed of reading them from the provider. (Iterating the model itself yields
    its fields, as for any pydantic model, which Prefect relies on: use `values()`.)
    """

    model_config = ConfigDict(defer_build=True)

    batch_ids: list[str] = Field(default_factory=list)
    results: list[BatchResult] = Field(default_factory=list)
    model: str | None = Field(
        default=None,
        description="The model as 'provider/model'; None when not known (older records).",
    )
    replaced_usage: list[Usage] = Field(
        default_factory=list,
        description="The usage of answers a retry round replaced (an invalid_output answer "
        "was billed): counted in `usage` and `cost`.",
    )
    _index: dict[str, BatchResult] | None = PrivateAttr(default=None)
    _priced: tuple[tuple[str | None, int, int, int], BatchCost | Unpriced] | None = PrivateAttr(
        default=None
    )

    def _by_id(self) -> dict[str, BatchResult]:
        if self._index is None or len(self._index) != len(self.results):
            self._index = {result.custom_id: result for result in self.results}
        return self._index

    def __getitem__(self, custom_id: str) -> BatchResult:
        try:
            return self._by_id()[custom_id]
        except KeyError:
            raise KeyError(f"no result with custom_id {custom_id!r}") from None

    def __contains__(self, custom_id: object) -> bool:
        return custom_id in self._by_id()

    def __len__(self) -> int:
        return len(self.results)

    def get(self, custom_id: str) -> BatchResult | None:
        """The result for `custom_id`, or None."""
        return self._by_id().get(custom_id)

    def __eq__(self, other: object) -> bool:
        # pydantic's == also compares private attributes: the lookup index is a cache
        if not isinstance(other, BatchResults):
            return NotImplemented
        return (
            self.batch_ids == other.batch_ids
            and self.model == other.model
            and self.results == other.results
            and self.replaced_usage == other.replaced_usage
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, like any pydantic model

    @classmethod
    def concat(cls, parts: Sequence[BatchResults]) -> BatchResults:
        """One collection of the parts' results and batch ids, in the parts' order.

        It keeps the parts' `model` when they all name the same one; else `model` is None
        (add up the parts' `cost` instead)."""
        models = {part.model for part in parts}
        return cls.model_construct(
            batch_ids=[batch_id for part in parts for batch_id in part.batch_ids],
            results=[result for part in parts for result in part.results],
            model=models.pop() if len(models) == 1 else None,
            replaced_usage=[usage for part in parts for usage in part.replaced_usage],
        )

    def merge(self, later: BatchResults) -> BatchResults:
        """These results with each of `later`'s in its request's place, counted as one more
        attempt (a retry's answers over the first's); `later`'s other results come last.
        The batch ids of both, in order; the `model` both name (else None). The usage of a
        replaced answer (an `invalid_output` one was billed) is kept in `replaced_usage`,
        so `usage` and `cost` of the merge are those of every round."""
        placed = {result.custom_id: result for result in later.results}
        merged = []
        replaced = [*self.replaced_usage, *later.replaced_usage]
        for result in self.results:
            again = placed.pop(result.custom_id, None)
            if again is not None and result.usage is not None:
                replaced.append(result.usage)
            merged.append(result if again is None else again.attempted(result.attempts + 1))
        merged.extend(placed.values())
        batch_ids = list(self.batch_ids)
        batch_ids.extend(one for one in later.batch_ids if one not in batch_ids)
        model = self.model if self.model == later.model else None
        return BatchResults.model_construct(
            batch_ids=batch_ids, results=merged, model=model, replaced_usage=replaced
        )

    @classmethod
    def of_rounds(cls, rounds: Sequence[BatchResults]) -> BatchResults:
        """One result per request from retry rounds in order: each round's answers over the
        ones before (`merge`)."""
        if not rounds:
            raise ValueError("no rounds to merge")
        merged = rounds[0]
        for later in rounds[1:]:
            merged = merged.merge(later)
        return merged

    def values(self) -> list[BatchResult]:
        """Every result, in the order they were read."""
        return list(self.results)

    def by_status(self, status: ResultStatus | str) -> list[BatchResult]:
        """The results with this status."""
        wanted = ResultStatus(status)
        return [result for result in self.results if result.status is wanted]

    @property
    def counts(self) -> dict[ResultStatus, int]:
        """How many results have each status (every status present, zero or not)."""
        counted = Counter(result.status for result in self.results)
        return {status: counted.get(status, 0) for status in ResultStatus}

    @property
    def usage(self) -> Usage:
        """Token usage added up over every result (and every answer a retry replaced)."""
        sums = dict.fromkeys(USAGE_FIELDS, 0)
        for usage in self._usages():
            if usage is not None:
                for name in USAGE_FIELDS:
                    sums[name] += getattr(usage, name)
        return Usage(**sums)

    @property
    def cost(self) -> BatchCost | None:
        """What the results cost at Batch API prices (genai-prices), or None when they
        cannot be priced: `unpriced_reason` says why. Results without usage cost nothing."""
        priced = self._pricing()
        return priced if isinstance(priced, BatchCost) else None

    @property
    def unpriced_reason(self) -> str | None:
        """Why `cost` is None (the model unknown to the price data, ...); else None."""
        priced = self._pricing()
        return priced.reason if isinstance(priced, Unpriced) else None

    def _pricing(self) -> BatchCost | Unpriced:
        key = (self.model, id(self.results), len(self.results), len(self.replaced_usage))
        if self._priced is None or self._priced[0] != key:
            usages = (usage for usage in self._usages() if usage is not None)
            self._priced = (key, price_usages(self.model, usages))
        return self._priced[1]

    def _usages(self) -> Iterator[Usage | None]:
        for result in self.results:
            yield result.usage
        yield from self.replaced_usage

    def texts(self) -> dict[str, str | None]:
        """`{custom_id: text}` for every result (None where there is no text)."""
        return {result.custom_id: result.text for result in self.results}

    def model_dump_json(self, **options: Any) -> str:
        """The results as JSON; with pydantic's options (`indent`, ...) pydantic writes it."""
        if options:
            return super().model_dump_json(**options)
        return results_json(self).decode()

    @classmethod
    def model_validate_json(
        cls, json_data: str | bytes | bytearray, **options: Any
    ) -> BatchResults:
        """Results from the JSON `model_dump_json` writes; raises pydantic's `ValidationError`.

        Read with typed decoding into structs: each message stays the raw JSON it was
        written as, decoded on access. Anything that decoding refuses goes to pydantic,
        which either reads it or raises the error naming what is wrong.
        """
        if not options:
            loaded = load_stored(json_data, cls)
            if loaded is not None:
                return loaded
        return super().model_validate_json(json_data, **options)
