"""What the artifacts show: their keys and the results preview. Pure functions."""

from __future__ import annotations

import genai_prices
import pydantic

from batchwork_prefect.models import BatchResult, BatchResults, ResultError, ResultStatus, Usage
from batchwork_prefect.orchestration.reporting import (
    PREVIEW_CHARS,
    PREVIEW_ROWS,
    artifact_key,
    cost_fields,
    cost_line,
    preview_rows,
)


def test_artifact_keys_are_made_of_the_scope_in_prefect_s_alphabet() -> None:
    assert artifact_key("summary", "2026-11-25") == "batchwork-summary-2026-11-25"
    assert artifact_key("summary", "Nightly_v2.1") == "batchwork-summary-nightly-v2-1"
    run = "0f0c2a9e-8d43-4f0e-9d1e-3f5b6c7d8e9f"
    assert (
        artifact_key("progress", f"{run}/call-2", part=0)
        == f"batchwork-progress-{run}-call-2-part-0"
    )
    assert artifact_key("summary", None) is None
    long = artifact_key("preview", "x" * 500)
    assert long is not None and len(long) < 130


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
