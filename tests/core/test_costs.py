"""batch() → collect() → cost over real HTTP against the emulator: the provider's usage read,
mapped and priced at Batch API prices; `get_batch` needs the model to price."""

from __future__ import annotations

from contextlib import closing
from decimal import Decimal
from typing import Any

import pytest

from batchwork_prefect import ConfigurationError, batch, get_batch
from batchwork_prefect.core.results import results_model
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.providers import get_provider
from tests.support import API_KEY

CAPITALS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
    {"custom_id": "bad", "prompt": "x [[emulate:errored]]"},
]


def _anthropic_usage(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "input_tokens": 1000,
        "cache_creation_input_tokens": 300,
        "cache_read_input_tokens": 200,
        "output_tokens": 100,
    }


def _openai_usage(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "prompt_tokens": 1000,
        "prompt_tokens_details": {"cached_tokens": 400},
        "completion_tokens": 50,
    }


def test_an_anthropic_batch_costs_its_cache_writes_reads_and_tokens() -> None:
    with Emulator(api_key=API_KEY, reply_usage=_anthropic_usage) as emu:
        with batch(
            "anthropic/claude-opus-4-8", CAPITALS, api_key=API_KEY, base_url=emu.base_url
        ) as job:
            job.wait(poll_interval=0.01)
            results = job.collect()
        assert results.model == "anthropic/claude-opus-4-8"
        cost = results.cost
        assert cost is not None and cost.results_priced == 2  # the errored one has no usage
        # per result, at claude-opus-4-8's batch prices per million tokens:
        # 1000 x 2.5 + 300 x 3.125 + 200 x 0.25 + 100 x 12.5
        assert cost.total == 2 * Decimal("0.0047375")
        assert cost.cache_write == 2 * 300 * Decimal("3.125") / 1_000_000

        with get_batch(
            job.id, api_key=API_KEY, base_url=emu.base_url, model="claude-opus-4-8"
        ) as again:
            assert again.collect().cost == cost
        with get_batch(job.id, api_key=API_KEY, base_url=emu.base_url) as unnamed:
            unpriced = unnamed.collect()
        assert unpriced.model is None and unpriced.cost is None
        assert unpriced.unpriced_reason is not None and "get_batch()" in unpriced.unpriced_reason


def test_an_openai_batch_prices_its_cached_tokens_as_part_of_the_prompt() -> None:
    with (
        Emulator(api_key=API_KEY, reply_usage=_openai_usage) as emu,
        batch("openai/gpt-5-mini", CAPITALS, api_key=API_KEY, base_url=emu.openai_base_url) as job,
    ):
        job.wait(poll_interval=0.01)
        results = job.collect()
    assert results.model == "openai/gpt-5-mini"
    cost = results.cost
    assert cost is not None and cost.results_priced == 2
    # per result, at gpt-5-mini's batch prices per million: 600 uncached x 0.125,
    # 400 cached x 0.0125, 50 out x 1
    assert cost.total == 2 * Decimal("0.00013")
    assert cost.cache_read == 2 * 400 * Decimal("0.0125") / 1_000_000


def test_a_model_unknown_to_the_prices_costs_none_not_zero(emulator: Emulator) -> None:
    with batch(
        "anthropic/claude-x", CAPITALS[:1], api_key=API_KEY, base_url=emulator.base_url
    ) as job:
        job.wait(poll_interval=0.01)
        results = job.collect()
    assert results.texts() == {"fr": "Paris"}
    assert results.cost is None
    assert results.unpriced_reason is not None
    assert "does not know the model 'anthropic/claude-x'" in results.unpriced_reason


@pytest.mark.parametrize("model", ["", 5])
def test_get_batch_refuses_a_model_that_is_no_name(model: Any, emulator: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="model must be the provider's model name"):
        get_batch("msgbatch_1", api_key=API_KEY, base_url=emulator.base_url, model=model)
    assert emulator.calls["retrieve"] == 0


def test_openai_s_wire_format_at_groq_s_origin_is_priced_as_groq(emulator: Emulator) -> None:
    # run_batch reaches Groq as "openai/<model>" with an OpenAI block at Groq's base URL
    groq = "https://api.groq.com/openai/v1"
    cases = [
        (get_provider("openai", api_key=API_KEY, base_url=groq), "groq/openai/gpt-oss-120b"),
        (get_provider("groq", api_key=API_KEY), "groq/openai/gpt-oss-120b"),
        (get_provider("openai", api_key=API_KEY), "openai/openai/gpt-oss-120b"),
        (
            get_provider("openai", api_key=API_KEY, base_url=emulator.openai_base_url),
            "openai/openai/gpt-oss-120b",
        ),
    ]
    for provider, expected in cases:
        with closing(provider):
            assert results_model(provider, "openai/gpt-oss-120b") == expected
            assert results_model(provider, None) is None
