"""Which of Gemini's request errors are sent again: its google.rpc names for a fault on its side."""

from __future__ import annotations

import pytest

from batchwork_prefect.core import retry_reason
from batchwork_prefect.models import BatchResult, ResultStatus


def _errored(kind: str) -> BatchResult:
    return BatchResult(
        custom_id="a", status=ResultStatus.ERRORED, error={"type": kind, "message": "m"}
    )


@pytest.mark.parametrize(
    "kind", ["INTERNAL", "UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED"]
)
def test_gemini_faults_on_its_side_are_sent_again(kind: str) -> None:
    assert retry_reason(_errored(kind)) == kind


@pytest.mark.parametrize(
    "kind", ["INVALID_ARGUMENT", "FAILED_PRECONDITION", "PERMISSION_DENIED", "CANCELLED"]
)
def test_gemini_errors_of_the_request_itself_are_not(kind: str) -> None:
    assert retry_reason(_errored(kind)) is None
