"""What every provider's results share, for comparing one provider's results with another's."""

from __future__ import annotations

from batchwork_prefect import BatchResults


def result_shape(results: BatchResults) -> list[tuple[str, str, bool, bool, bool]]:
    """Each result's id, status, and which of text, usage and error are set; sorted by id."""
    return sorted(
        (
            result.custom_id,
            result.status.value,
            result.text is not None,
            result.usage is not None,
            result.error is not None,
        )
        for result in results.values()
    )
