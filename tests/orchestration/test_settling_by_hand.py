"""`resolve_submission` checks an adopted id at the provider, and a wrong record can be undone.

The shape found: a lost create answer with two candidates, settled with a mistyped id. The
next run failed on a 404 and every later settle was refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from batchwork_prefect import AnthropicCredentials, ProviderError, batch, run_batch
from batchwork_prefect.emulator import Emulator, Fault
from batchwork_prefect.errors import ConfigurationError, UnreconciledSubmissionError
from batchwork_prefect.orchestration.intents import resolve_submission
from tests.support import API_KEY

MODEL = "anthropic/claude-opus-4-8"
CAPITALS = [
    {"custom_id": "fr", "prompt": "Capital of France? One word."},
    {"custom_id": "jp", "prompt": "Capital of Japan? One word."},
]


def _credentials(emulator: Emulator) -> AnthropicCredentials:
    return AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)


def _run(emulator: Emulator, key: str) -> Any:
    return run_batch(
        model=MODEL,
        requests=CAPITALS,
        credentials=_credentials(emulator),
        idempotency_key=key,
        poll_interval=0.05,
        return_state=True,
    )


def _unreconciled(emulator: Emulator, key: str) -> tuple[UnreconciledSubmissionError, str]:
    """A part whose create answer was lost among two candidates; and the other batch's id."""
    with batch(
        MODEL, CAPITALS, {"max_tokens": 8}, api_key=API_KEY, base_url=emulator.base_url
    ) as other:
        other_id = other.id
    emulator.add_fault(Fault(route="create", status=500, after_create=True))
    with pytest.raises(UnreconciledSubmissionError) as caught:
        _run(emulator, key).result()
    return caught.value, other_id


def _intent(prefect_home: Path, key: str) -> dict[str, Any]:
    [path] = (prefect_home / "storage" / "batchwork" / key).glob("*/*/intent.json")
    intent: dict[str, Any] = orjson.loads(path.read_bytes())
    return intent


def test_a_mistyped_adopt_is_refused_and_nothing_is_recorded(
    emulator: Emulator, prefect_home: Path
) -> None:
    error, other_id = _unreconciled(emulator, "settle-typo")
    [ours] = [candidate for candidate in error.candidates if candidate != other_id]
    with batch(MODEL, CAPITALS[:1], api_key=API_KEY, base_url=emulator.base_url) as smaller:
        smaller_id = smaller.id
    credentials = _credentials(emulator)
    refusals = {
        "batch_" + ours.removeprefix("msgbatch_"): "is not an Anthropic batch id",
        ours + "x": f"the provider does not know batch {ours}x",
        smaller_id: f"batch {smaller_id} holds 1 requests, but the part has 2",
    }
    for mistyped, message in refusals.items():
        with pytest.raises(ConfigurationError, match=message):
            resolve_submission(error.intent_key, adopt=mistyped, credentials=credentials)
        assert _intent(prefect_home, "settle-typo")["state"] == "pending"  # nothing recorded

    settled = resolve_submission(error.intent_key, adopt=ours, credentials=credentials)
    assert (settled.state, settled.batch_id) == ("created", ours)
    assert _run(emulator, "settle-typo").result().batch_ids == [ours]


def _record(prefect_home: Path, key: str, batch_id: str) -> None:
    """Record `batch_id` as the part's batch, as an unchecked adopt did before."""
    [path] = (prefect_home / "storage" / "batchwork" / key).glob("*/*/intent.json")
    intent = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps({**intent, "state": "created", "batch_id": batch_id}))


@pytest.mark.parametrize("way_out", ["resubmit", "adopt"])
def test_a_record_of_a_batch_the_provider_does_not_know_can_be_settled_again(
    emulator: Emulator, prefect_home: Path, way_out: str
) -> None:
    error, other_id = _unreconciled(emulator, f"settle-again-{way_out}")
    [ours] = [candidate for candidate in error.candidates if candidate != other_id]
    _record(prefect_home, f"settle-again-{way_out}", "msgbatch_mistyped")
    failed = _run(emulator, f"settle-again-{way_out}")
    with pytest.raises(ProviderError, match="404"):
        failed.result()

    credentials = _credentials(emulator)
    if way_out == "resubmit":
        resolve_submission(error.intent_key, resubmit=True, credentials=credentials)
        created = emulator.batches_created
        again = _run(emulator, f"settle-again-{way_out}").result()
        assert emulator.batches_created == created + 1  # made anew, as asked
    else:
        resolve_submission(error.intent_key, adopt=ours, credentials=credentials)
        again = _run(emulator, f"settle-again-{way_out}").result()
        assert again.batch_ids == [ours]
    assert again.texts() == {"fr": "Paris", "jp": "Tokyo"}


def test_a_record_of_a_batch_the_provider_knows_is_not_settled_again(
    emulator: Emulator, prefect_home: Path
) -> None:
    done = _run(emulator, "settle-known").result()
    [intent_path] = (prefect_home / "storage" / "batchwork" / "settle-known").glob(
        "*/*/intent.json"
    )
    key = str(intent_path.relative_to(prefect_home / "storage"))
    for choice in ({"resubmit": True}, {"adopt": done.batch_ids[0]}):
        with pytest.raises(ConfigurationError, match="which the provider knows"):
            resolve_submission(key, credentials=_credentials(emulator), **choice)
    assert _intent(prefect_home, "settle-known")["batch_id"] == done.batch_ids[0]


def test_a_rebuilt_intent_takes_its_provider_from_the_id_or_asks(
    emulator: Emulator, prefect_home: Path
) -> None:
    first = _run(emulator, "settle-rebuilt").result()
    [intent_path] = (prefect_home / "storage" / "batchwork" / "settle-rebuilt").glob(
        "*/*/intent.json"
    )
    intent_path.write_bytes(b"{damaged")
    key = str(intent_path.relative_to(prefect_home / "storage"))
    with pytest.raises(ConfigurationError, match="give provider='anthropic'"):
        resolve_submission(key, adopt="mb-" + first.batch_ids[0], credentials="unused")
    with pytest.raises(ConfigurationError, match="not an OpenAI batch id"):
        resolve_submission(key, adopt=first.batch_ids[0], provider="openai", credentials="unused")
    settled = resolve_submission(key, adopt=first.batch_ids[0], credentials=_credentials(emulator))
    assert (settled.provider, settled.batch_id) == ("anthropic", first.batch_ids[0])


def test_a_part_whose_claim_a_live_run_holds_is_not_settled(
    emulator: Emulator, prefect_home: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from batchwork_prefect.orchestration.claims import Claim

    error, _ = _unreconciled(emulator, "held-while-settling")
    assert "more than 15 minutes old" in str(error)
    [folder] = (prefect_home / "storage" / "batchwork" / "held-while-settling").glob("*/*")
    generations = sorted(folder.glob("claim-*.json"))
    live = Claim(
        holder="h", flow_run_id="run-live", expires_at=datetime.now(UTC) + timedelta(minutes=1)
    )
    taken = folder / f"claim-{len(generations)}.json"
    taken.write_bytes(live.model_dump_json().encode())
    with pytest.raises(ConfigurationError, match="being created by flow run run-live"):
        resolve_submission(error.intent_key, resubmit=True)
    taken.unlink()  # the holder released it, or its lease lapsed
    assert resolve_submission(error.intent_key, resubmit=True).state == "resubmit"
