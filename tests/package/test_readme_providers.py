"""The README's providers table says what the code does: each column's model prefix, key
variables, credentials block, how a lost create is found, and whether results are priced."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from batchwork_prefect import Usage
from batchwork_prefect.orchestration.credentials import CREDENTIALS_BLOCKS
from batchwork_prefect.pricing import BatchCost, price_usages
from batchwork_prefect.providers import get_provider
from batchwork_prefect.registry import PROVIDERS

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
COLUMNS = {  # the table's columns, by the provider each one is
    "anthropic": 1,
    "openai": 2,
    "gemini": 3,
    "mistral": 4,
    "together": 5,
    "xai": 6,
}
# A model of each provider whose price the cost row speaks of.
PRICED = {
    "anthropic": "anthropic/claude-opus-4-8",
    "openai": "openai/gpt-4o-mini",
    "gemini": "gemini/gemini-2.5-flash",
    "mistral": "mistral/mistral-small-latest",
    "together": "together/meta-llama/Llama-3.3-70B-Instruct-Turbo",
    "xai": "xai/grok-4-1-fast-reasoning",
}


def _row(name: str) -> list[str]:
    section = README[README.index("## Providers") : README.index("## Commands")]
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[0] == name:
            return cells
    raise AssertionError(f"the README's providers table has no {name!r} row")


def test_the_table_has_a_column_per_provider_with_a_block() -> None:
    assert set(COLUMNS) == set(CREDENTIALS_BLOCKS)
    assert set(COLUMNS) | {"groq"} == set(PROVIDERS)


@pytest.mark.parametrize("provider", sorted(COLUMNS))
def test_each_column_names_the_provider_s_model_prefix_key_and_block(provider: str) -> None:
    column = COLUMNS[provider]
    assert _row("model")[column].startswith(f"`{provider}/...`")
    keys = re.findall(r"`([A-Z_]+)`", _row("key")[column])
    assert set(PROVIDERS[provider].api_key_env) <= set(keys)
    assert _row("block")[column] == f"`{CREDENTIALS_BLOCKS[provider].__name__}`"


@pytest.mark.parametrize("provider", sorted(COLUMNS))
def test_a_lost_create_is_found_exactly_where_the_provider_records_the_digest(
    provider: str,
) -> None:
    client = get_provider(provider, api_key="key-for-the-test")
    try:
        exact = _row("a lost create")[COLUMNS[provider]] == "exactly, by digest"
        assert exact is client.records_digest
    finally:
        client.close()


@pytest.mark.parametrize("provider", sorted(COLUMNS))
def test_the_cost_row_says_whether_the_provider_s_batches_are_priced(provider: str) -> None:
    cost = price_usages(PRICED[provider], [Usage(input_tokens=1000, output_tokens=100)])
    said = _row("cost")[COLUMNS[provider]]
    assert isinstance(cost, BatchCost) is (not said.startswith("unpriced")), (provider, cost)
