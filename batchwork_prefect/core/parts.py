"""Splitting a batch's requests into provider batches that fit the provider's limits. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from batchwork_prefect.errors import ConfigurationError, InvalidBatchError

ENVELOPE_BYTES = 64
"""Room kept in each batch for the body's own framing (`{"requests":[...]}` and the like)."""


def plan_parts(sizes: Sequence[int], *, max_requests: int, max_bytes: int) -> list[range]:
    """Consecutive index ranges over `sizes`, each within both limits.

    `sizes` are the encoded byte sizes of the requests, in order; each request also costs one
    separator byte. A request too large to fit any batch raises `InvalidBatchError`.
    """
    if max_requests < 1 or max_bytes <= ENVELOPE_BYTES:
        raise ConfigurationError("max_requests must be >= 1 and max_bytes larger than the envelope")
    budget = max_bytes - ENVELOPE_BYTES
    too_large = [index for index, size in enumerate(sizes) if size + 1 > budget]
    if too_large:
        raise InvalidBatchError(
            [
                f"request {index} encodes to {sizes[index]} bytes, over the {max_bytes}-byte "
                "batch limit"
                for index in too_large
            ]
        )
    parts: list[range] = []
    start = 0
    used = 0
    for index, size in enumerate(sizes):
        if index > start and (index - start >= max_requests or used + size + 1 > budget):
            parts.append(range(start, index))
            start, used = index, 0
        used += size + 1
    if sizes:
        parts.append(range(start, len(sizes)))
    return parts
