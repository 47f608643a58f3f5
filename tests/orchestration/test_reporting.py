"""What the artifacts show: their keys and the results preview. Pure functions."""

from __future__ import annotations

from batchwork_prefect.models import BatchResult, BatchResults, ResultError, ResultStatus
from batchwork_prefect.orchestration.reporting import (
    PREVIEW_CHARS,
    PREVIEW_ROWS,
    artifact_key,
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
