"""A scope's records belong to the endpoint (and account) that made them; a rerun says what
it takes from storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from batchwork_prefect import (
    AnthropicCredentials,
    ConfigurationError,
    OpenAICredentials,
    run_batch,
)
from batchwork_prefect.emulator import Emulator
from tests.support import API_KEY

CAPITALS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]


@pytest.fixture
def elsewhere() -> Iterator[Emulator]:
    """A second endpoint: another emulator on another port."""
    with Emulator(api_key=API_KEY) as emulator:
        yield emulator


def _anthropic(emulator: Emulator) -> AnthropicCredentials:
    return AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)


def test_a_key_reused_against_another_endpoint_is_refused_before_any_call(
    emulator: Emulator, elsewhere: Emulator
) -> None:
    first = run_batch(
        "anthropic/claude-x", CAPITALS, credentials=_anthropic(emulator), idempotency_key="ep-1"
    )
    assert first.texts() == {"fr": "Paris", "jp": "Tokyo"}
    calls = dict(emulator.calls)
    with pytest.raises(ConfigurationError) as refused:
        run_batch(
            "anthropic/claude-x",
            CAPITALS,
            credentials=_anthropic(elsewhere),
            idempotency_key="ep-1",
        )
    message = str(refused.value)
    assert emulator.base_url in message and elsewhere.base_url in message
    assert "another idempotency_key" in message
    assert sum(elsewhere.calls.values()) == 0  # neither answered from storage nor created
    assert dict(emulator.calls) == calls


def test_a_key_reused_with_another_openai_project_is_refused(emulator: Emulator) -> None:
    def credentials(project: str) -> OpenAICredentials:
        return OpenAICredentials(
            api_key=API_KEY, base_url=emulator.openai_base_url, project=project
        )

    run_batch(
        "openai/gpt-4o-mini", CAPITALS, credentials=credentials("proj_a"), idempotency_key="ep-2"
    )
    creates = emulator.calls["openai.batches.create"]
    with pytest.raises(ConfigurationError, match=r"project proj_a.*project proj_b"):
        run_batch(
            "openai/gpt-4o-mini",
            CAPITALS,
            credentials=credentials("proj_b"),
            idempotency_key="ep-2",
        )
    assert emulator.calls["openai.batches.create"] == creates
    # the same endpoint and project resumes as before
    again = run_batch(
        "openai/gpt-4o-mini", CAPITALS, credentials=credentials("proj_a"), idempotency_key="ep-2"
    )
    assert again.texts() == {"fr": "Paris", "jp": "Tokyo"}
    assert emulator.calls["openai.batches.create"] == creates


def test_a_rerun_says_its_results_come_from_storage(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    run_batch(
        "anthropic/claude-x", CAPITALS, credentials=_anthropic(emulator), idempotency_key="ep-3"
    )
    with caplog.at_level("INFO", logger="prefect.flow_runs"):
        run_batch(
            "anthropic/claude-x",
            CAPITALS,
            credentials=_anthropic(emulator),
            idempotency_key="ep-3",
        )
    stored = [r.getMessage() for r in caplog.records if "come from storage" in r.getMessage()]
    assert len(stored) == 1 and "the provider is not called" in stored[0]
    assert "results.json" in stored[0]


def test_submit_part_on_its_own_checks_its_parts_intent(
    emulator: Emulator, elsewhere: Emulator, tmp_path: Path
) -> None:
    from prefect.filesystems import LocalFileSystem

    from batchwork_prefect.core import build_parts
    from batchwork_prefect.orchestration.submission import PartSubmission
    from batchwork_prefect.providers.anthropic import AnthropicProvider

    storage = LocalFileSystem(basepath=str(tmp_path))
    first = AnthropicProvider(api_key=API_KEY, base_url=emulator.base_url)
    built = build_parts(first, "claude-x", CAPITALS)
    PartSubmission(first, built, 0, scope="own", storage=storage).run()
    other = AnthropicProvider(api_key=API_KEY, base_url=elsewhere.base_url)
    with pytest.raises(ConfigurationError, match=elsewhere.base_url):
        PartSubmission(other, built, 0, scope="own", storage=storage).run()
    assert sum(elsewhere.calls.values()) == 0
