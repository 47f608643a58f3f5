"""`trusted_given`: a model built from checked values naming only the fields given."""

from __future__ import annotations

import pytest

from batchwork_prefect.models import BatchSnapshot, BatchStatus, RequestCounts, trusted_given


def test_the_given_fields_are_set_and_the_others_take_their_defaults() -> None:
    given = {
        "id": "batch_1",
        "provider": "openai",
        "status": BatchStatus.COMPLETED,
        "request_counts": RequestCounts(total=1, succeeded=1),
        "provider_status": "completed",
        "digest": None,
    }
    snapshot = trusted_given(BatchSnapshot, given)
    assert snapshot.model_fields_set == set(given)
    assert (snapshot.parts, snapshot.errors, snapshot.created_at) == ((), (), None)
    assert list(snapshot.__dict__) == list(BatchSnapshot.model_fields)
    assert snapshot == BatchSnapshot(**given)


def test_a_required_field_left_out_is_refused() -> None:
    with pytest.raises(TypeError, match=r"BatchSnapshot\.provider_status is required"):
        trusted_given(
            BatchSnapshot,
            {
                "id": "batch_1",
                "provider": "openai",
                "status": BatchStatus.COMPLETED,
                "request_counts": RequestCounts(),
            },
        )
