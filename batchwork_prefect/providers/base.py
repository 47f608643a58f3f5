"""The provider seam: what the core needs from any batch provider's wire format."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from batchwork_prefect.errors import ConfigurationError
from batchwork_prefect.models import BatchRequest, BatchResult, BatchSnapshot
from batchwork_prefect.outputs import OutputType


@dataclass(frozen=True)
class BatchLimits:
    """How large one provider batch may be: requests, and bytes of encoded requests."""

    max_requests: int
    max_bytes: int

    def __post_init__(self) -> None:
        if self.max_requests < 1 or self.max_bytes < 1:
            raise ConfigurationError("batch limits must be positive")


class WireFormat(Protocol):
    """How one provider's batch requests are built and encoded. Pure; needs no credentials."""

    name: str
    limits: BatchLimits

    def output_fields(self, output: OutputType, model: str) -> dict[str, Any]:
        """The request fields that ask `model` for answers of a typed batch's `output`, in
        the provider's native structured-output form. Raises `ValueError` (naming why) for
        a schema the provider cannot carry faithfully."""
        ...

    def request_params(
        self,
        model: str,
        request: BatchRequest,
        defaults: Mapping[str, Any],
        output: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The provider's request body for one request (defaults merged, request wins),
        with a typed batch's `output_fields` (a request's own form of them is refused)."""
        ...

    def encode_request(self, custom_id: str, params: Mapping[str, Any]) -> bytes:
        """One request as the bytes it takes in the provider's batch body."""
        ...


class BatchProvider(WireFormat, Protocol):
    """One provider's batch API, seen through provider-neutral types."""

    @property
    def endpoint(self) -> str:
        """Where this provider's batches live: its base URL, and the account where the
        wire can tell it (OpenAI's organization and project). Never holds a key."""
        ...

    records_digest: bool
    """True when `create` records `digest` with the batch, so the snapshots of its batches
    carry it (`BatchSnapshot.digest`) and a create whose answer was lost is found by it
    exactly; False when a lost create can only be recognised by its size and time."""

    def create(self, encoded: Sequence[bytes], *, digest: str) -> BatchSnapshot:
        """Submit one batch of encoded requests."""
        ...

    def check_batch_id(self, batch_id: str) -> str:
        """`batch_id` if it is well-formed for this provider; else `UnsafeURLError`. No I/O."""
        ...

    def retrieve(self, batch_id: str) -> BatchSnapshot:
        """The batch as the provider sees it now."""
        ...

    def cancel(self, batch_id: str) -> BatchSnapshot:
        """Ask the provider to cancel the batch."""
        ...

    def list_batches(self, *, created_after: datetime | None = None) -> Iterator[BatchSnapshot]:
        """The provider's batches, newest first, stopping before `created_after`."""
        ...

    def results(
        self, snapshot: BatchSnapshot, *, custom_ids: Sequence[str] | None = None
    ) -> Iterator[BatchResult | bytes | BatchSnapshot]:
        """The results of an ended batch, streamed; raw bytes for a line that did not parse.

        `custom_ids` are the ids submitted in this batch, in order, when the caller knows
        them: a provider whose results leave out requests a batch never ran (OpenAI's) gives
        those their outcome from them, and reads them from the provider otherwise.

        A provider whose counts cannot tell every outcome apart before the results are read
        (OpenAI's `failed` may count requests a batch never ran) may end the stream with the
        batch's snapshot, its counts settled from the provider's own numbers: the results
        are then checked against it instead of `snapshot`.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...
