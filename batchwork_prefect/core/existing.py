"""`get_batch()` and `list_batches()`: jobs over batches that already exist, and the list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import httpx
from pydantic import SecretStr

from batchwork_prefect.core.job import BatchJob
from batchwork_prefect.errors import ConfigurationError
from batchwork_prefect.models import JOB_ID_SEPARATOR, BatchSnapshot
from batchwork_prefect.outputs import OutputLike, OutputType
from batchwork_prefect.providers import get_provider


def get_batch(
    batch_id: str | Sequence[str],
    provider: str = "anthropic",
    *,
    api_key: str | SecretStr | None = None,
    base_url: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | httpx.Timeout | None = None,
    model: str | None = None,
    output: OutputType | OutputLike | None = None,
) -> BatchJob:
    """A job for existing provider batch ids (a job `id` with commas works too).

    Fetches each batch once, so `status` is current. `model` is the provider's model name
    the batch was made with (e.g. "claude-opus-4-8"): the collected results' `cost` needs it.
    `output` is a typed batch's output type: its answers are validated into `parsed`.
    """
    typed = OutputType.of(output)  # a bad output fails before any request
    ids = _batch_ids(batch_id)
    if model is not None and (not isinstance(model, str) or not model):
        raise ConfigurationError(
            f"model must be the provider's model name, e.g. 'claude-opus-4-8', not {model!r}"
        )
    connected = get_provider(
        provider, api_key=api_key, base_url=base_url, headers=headers, timeout=timeout
    )
    try:
        return BatchJob.attach(connected, ids, model=model, output=typed)
    except BaseException:
        connected.close()
        raise


def _batch_ids(batch_id: object) -> list[str]:
    """The ids in a job id or a list of ids; anything else is a `ConfigurationError`."""
    if isinstance(batch_id, str):
        return batch_id.split(JOB_ID_SEPARATOR)
    if isinstance(batch_id, (list, tuple)) and all(isinstance(one, str) for one in batch_id):
        return list(batch_id)
    raise ConfigurationError(
        "batch_id must be a provider batch id such as 'msgbatch_...', a job id (ids joined by "
        f"commas) or a list of ids, not {type(batch_id).__name__}"
    )


def list_batches(
    provider: str = "anthropic",
    *,
    created_after: datetime | None = None,
    api_key: str | SecretStr | None = None,
    base_url: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> list[BatchSnapshot]:
    """The provider's batches, newest first, back to `created_after` (all when None).

    With a `SubmissionOutcomeUnknown`, pass its `attempted_at` and look for its
    `request_count` to find a batch whose create answer was lost.
    """
    connected = get_provider(provider, api_key=api_key, base_url=base_url, headers=headers)
    try:
        return list(connected.list_batches(created_after=created_after))
    finally:
        connected.close()
