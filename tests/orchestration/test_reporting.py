"""What the artifacts show: their keys, the summary and the results preview. Pure functions."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import genai_prices
import pydantic
import pytest
from prefect.filesystems import LocalFileSystem

from batchwork_prefect.core import build_parts
from batchwork_prefect.models import (
    BatchResult,
    BatchResults,
    BatchSnapshot,
    BatchStatus,
    PartHandle,
    RequestCounts,
    ResultError,
    ResultStatus,
    Usage,
)
from batchwork_prefect.orchestration.artifact_keys import artifact_key
from batchwork_prefect.orchestration.reporting import cost_fields, cost_line
from batchwork_prefect.orchestration.summary import (
    PREVIEW_CHARS,
    PREVIEW_ROWS,
    PROMPT_CHARS,
    RoundShown,
    preview_rows,
    prompt_starts,
    summary_rows,
)
from batchwork_prefect.providers import BatchLimits, get_format

_KEY = re.compile(r"[a-z0-9-]+")


def _sha8(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:8]


def test_artifact_keys_are_readable_labels_then_the_scope_s_digest() -> None:
    # a keyed batch: its deployment's (or flow's) name and the key, lowercased
    assert artifact_key("summary", "2026-11-25", label="nightly-2026-11-25") == (
        f"batchwork-summary-nightly-2026-11-25-{_sha8('2026-11-25')}"
    )
    run = "0f0c2a9e-8d43-4f0e-9d1e-3f5b6c7d8e9f"
    key = artifact_key("progress", f"{run}/call-2", part=0, label="crimson-otter-call-2")
    assert key == f"batchwork-progress-crimson-otter-call-2-{_sha8(run + '/call-2')}-part-0"
    assert artifact_key("summary", None) is None


def test_two_scopes_whose_labels_read_alike_never_share_a_key() -> None:
    one = artifact_key("summary", "Nightly_v2.1", label="flow-Nightly_v2.1")
    other = artifact_key("summary", "nightly-v2-1", label="flow-nightly-v2-1")
    assert one is not None and other is not None and one != other
    assert one.startswith("batchwork-summary-flow-nightly-v2-1-")
    for key in (one, other):
        assert _KEY.fullmatch(key)


def test_a_long_label_is_cut_and_the_key_stays_in_prefect_s_alphabet() -> None:
    key = artifact_key("preview", "x" * 128, 7, label="Deploy/ment " + "y" * 500)
    assert key is not None and _KEY.fullmatch(key) and "--" not in key
    assert len(key) <= len("batchwork-preview-") + 80 + len("-12345678-part-7")


def test_the_preview_shows_the_first_results_text_or_error_cut_short() -> None:
    results = BatchResults(
        batch_ids=["msgbatch_1"],
        results=[
            BatchResult(custom_id="long", status=ResultStatus.SUCCEEDED, text="y" * 1000),
            BatchResult(
                custom_id="bad",
                status=ResultStatus.ERRORED,
                error=ResultError(type="invalid_request_error", message="max_tokens: too big"),
            ),
            *(
                BatchResult(custom_id=f"r{i}", status=ResultStatus.SUCCEEDED, text=str(i))
                for i in range(50)
            ),
        ],
    )
    rows = preview_rows(results)
    assert len(rows) == PREVIEW_ROWS
    assert rows[0]["custom_id"] == "long" and rows[0]["status"] == "succeeded"
    assert len(rows[0]["text or error"]) == PREVIEW_CHARS
    assert rows[0]["text or error"].endswith("…")
    assert rows[1] == {
        "custom_id": "bad",
        "status": "errored",
        "text or error": "invalid_request_error: max_tokens: too big",
    }
    assert rows[2]["text or error"] == "0"


def _priced(model: str | None) -> BatchResults:
    usage = Usage(input_tokens=1000, output_tokens=100, cache_read_input_tokens=200)
    return BatchResults(
        batch_ids=["msgbatch_1"],
        model=model,
        results=[
            BatchResult(custom_id="fr", status=ResultStatus.SUCCEEDED, usage=usage),
            BatchResult(custom_id="late", status=ResultStatus.EXPIRED),
        ],
    )


def test_the_cost_line_and_event_fields_of_priced_results() -> None:
    results = _priced("anthropic/claude-opus-4-8")
    # per million at batch prices: 1000 x 2.5 + 200 x 0.25 (cache reads) + 100 x 12.5
    assert cost_line(results) == (
        f"$0.0038 for 1 results at Batch API prices (genai-prices {genai_prices.__version__})"
    )
    fields = cost_fields(results)
    assert fields["unpriced_reason"] is None
    assert fields["cost"]["total"] == "0.0038" and fields["cost"]["cache_read"] == "0.00005"
    assert fields["cost"]["results_priced"] == 1


def test_the_cost_line_and_event_fields_of_an_unknown_model_say_why() -> None:
    results = _priced("anthropic/claude-x")
    reason = f"genai-prices {genai_prices.__version__} does not know the model 'anthropic/claude-x'"
    assert cost_line(results) == f"not priced: {reason}"
    assert cost_fields(results) == {"cost": None, "unpriced_reason": reason}


def test_a_typed_batch_s_preview_shows_its_parsed_fields_as_columns_then_the_error() -> None:
    class Capital(pydantic.BaseModel):
        city: str
        country: str
        landmarks: list[str]

    results = BatchResults(
        batch_ids=["msgbatch_1"],
        results=[
            BatchResult(
                custom_id="fr",
                status=ResultStatus.SUCCEEDED,
                text='{"city":"Paris",...}',
                parsed=Capital(city="Paris", country="France", landmarks=["Louvre"]),
            ),
            BatchResult(
                custom_id="off",
                status=ResultStatus.ERRORED,
                text="[]",
                error=ResultError(
                    type="invalid_output", message="does not fit Capital: Input should be an object"
                ),
            ),
            BatchResult(  # loaded from storage: the parsed JSON, a field named like a column
                custom_id="jp",
                status=ResultStatus.SUCCEEDED,
                parsed={"city": "Tokyo", "country": "Japan", "landmarks": [], "status": "capital"},
            ),
        ],
    )
    assert preview_rows(results) == [
        {
            "custom_id": "fr",
            "status": "succeeded",
            "city": "Paris",
            "country": "France",
            "landmarks": '["Louvre"]',
            "parsed.status": "",
            "error": "",
        },
        {
            "custom_id": "off",
            "status": "errored",
            "city": "",
            "country": "",
            "landmarks": "",
            "parsed.status": "",
            "error": "invalid_output: does not fit Capital: Input should be an object",
        },
        {
            "custom_id": "jp",
            "status": "succeeded",
            "city": "Tokyo",
            "country": "Japan",
            "landmarks": "[]",
            "parsed.status": "capital",
            "error": "",
        },
    ]


def test_the_preview_follows_the_requests_order_with_the_start_of_each_prompt() -> None:
    results = BatchResults(  # the provider's order, and more results than the preview shows
        batch_ids=["msgbatch_1"],
        results=[
            BatchResult(custom_id=f"r{i}", status=ResultStatus.SUCCEEDED, text=f"answer {i}")
            for i in reversed(range(30))
        ],
    )
    order = [f"r{i}" for i in range(30)]
    prompts = {"r0": "Capital of France?", "r1": "p" * PROMPT_CHARS}
    rows = preview_rows(results, prompts, order=order)
    assert [row["custom_id"] for row in rows] == order[:PREVIEW_ROWS]
    assert rows[0] == {
        "custom_id": "r0",
        "status": "succeeded",
        "prompt": "Capital of France?",
        "text or error": "answer 0",
    }
    assert rows[2]["prompt"] == ""  # a request whose prompt start is not known


@pytest.mark.parametrize("name", ["anthropic", "openai"])
def test_the_prompt_start_is_the_last_user_message_of_the_first_requests_only(name: str) -> None:
    requests = [
        {
            "custom_id": "chat",
            "messages": [
                {"role": "user", "content": "Hello"},
                {"role": "assistant", "content": "Hi"},
                {"role": "user", "content": [{"type": "text", "text": "Capital of  Japan?\nOne"}]},
            ],
        },
        *({"custom_id": f"r{i}", "prompt": f"prompt {i} " + "z" * 100} for i in range(40)),
    ]
    built = build_parts(get_format(name), "m", requests, limits=BatchLimits(7, 10**6))
    starts = prompt_starts(built)
    assert list(starts) == ["chat", *(f"r{i}" for i in range(PREVIEW_ROWS - 1))]  # across parts
    assert starts["chat"] == "Capital of Japan? One"  # one line in a table cell
    assert len(starts["r0"]) == PROMPT_CHARS and starts["r0"].startswith("prompt 0 z")


def _handle(part: int, parts: int, batch_id: str, attempt: int = 1) -> PartHandle:
    return PartHandle(
        provider="anthropic",
        model="claude-opus-4-8",
        digest="d" * 64,
        batch_id=batch_id,
        custom_ids=[f"c{part}"],
        submitted_at=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
        part=part,
        parts=parts,
        attempt=attempt,
    )


def test_the_summary_names_each_part_s_provider_batch_per_round_and_the_wait(
    tmp_path: Path,
) -> None:
    built = build_parts(get_format("anthropic"), "claude-opus-4-8", [{"prompt": "x"}])
    first = BatchResults(
        batch_ids=["msgbatch_a", "msgbatch_b"],
        results=[
            BatchResult(custom_id="c0", status=ResultStatus.SUCCEEDED, text="ok"),
            BatchResult(custom_id="c1", status=ResultStatus.EXPIRED),
        ],
    )
    second = BatchResults(
        batch_ids=["msgbatch_c"],
        results=[BatchResult(custom_id="c1", status=ResultStatus.SUCCEEDED, text="ok")],
    )
    ended = {
        one: BatchSnapshot(
            id=one,
            provider="anthropic",
            provider_status="ended",
            status=BatchStatus.COMPLETED,
            request_counts=RequestCounts(succeeded=1, total=1),
            created_at=datetime(2026, 11, 25, 8, minute, 5, tzinfo=UTC),
            ended_at=ends,
        )
        for one, minute, ends in [
            ("msgbatch_a", 0, datetime(2026, 11, 25, 8, 30, tzinfo=UTC)),
            ("msgbatch_b", 0, datetime(2026, 11, 25, 8, 40, tzinfo=UTC)),
            ("msgbatch_c", 45, datetime(2026, 11, 25, 9, 2, 3, tzinfo=UTC)),
        ]
    }
    rounds = [
        RoundShown(
            [_handle(0, 2, "msgbatch_a"), _handle(1, 2, "msgbatch_b")],
            first,
            [ended["msgbatch_a"], ended["msgbatch_b"]],
        ),
        RoundShown([_handle(0, 1, "msgbatch_c", attempt=2)], second, [ended["msgbatch_c"]]),
    ]
    storage = LocalFileSystem(basepath=str(tmp_path))
    rows = summary_rows(
        built, rounds, first.merge(second), "nightly", storage, "local-file-system/r"
    )
    fields = {row["field"]: row["value"] for row in rows}
    assert fields["model"] == "anthropic/claude-opus-4-8"
    assert fields["batch scope"] == "nightly" and fields["batch digest"] == built.digest
    assert fields["part 1/2, round 1"] == "provider batch msgbatch_a"
    assert fields["part 2/2, round 1"] == "provider batch msgbatch_b"
    assert fields["part 1/1, round 2"] == "provider batch msgbatch_c"
    assert fields["wait"] == "1h 02m 03s (2026-11-25 08:00:00 to 2026-11-25 09:02:03 UTC)"
    assert fields["succeeded"] == 2
    assert fields["results stored at"] == f"{tmp_path}/batchwork/nightly/latest.json"
    assert fields["load them with"] == (
        'load_batch_results("nightly", storage="local-file-system/r")'
    )
    # a part whose end this process did not see: the wait is not guessed
    unseen = [RoundShown(rounds[0].handles, first, [ended["msgbatch_a"]])]
    assert summary_rows(built, unseen, first, "nightly", storage)[4:7] == [
        {"field": "part 1/2, round 1", "value": "provider batch msgbatch_a"},
        {"field": "part 2/2, round 1", "value": "provider batch msgbatch_b"},
        {"field": "wait", "value": "not known (the parts' ends were read in an earlier run)"},
    ]
    assert {"field": "load them with", "value": 'load_batch_results("nightly")'} in (
        summary_rows(built, unseen, first, "nightly", storage)
    )
