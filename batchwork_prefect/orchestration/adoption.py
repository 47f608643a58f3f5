"""What a batch id adopted by hand must be: well-formed, known to the provider, the part's size.

A mistyped id recorded as a part's batch would make every later run fail on a 404, so it is
checked at the provider before it is recorded; and a record whose batch the provider does
not know can be settled again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing

from batchwork_prefect.errors import ConfigurationError, ProviderError, UnsafeURLError
from batchwork_prefect.models import BatchSnapshot
from batchwork_prefect.orchestration.credentials import Credentials, connect
from batchwork_prefect.providers import BatchProvider, check_batch_id
from batchwork_prefect.registry import PROVIDERS

UNKNOWN = "unknown"
"""The provider of an intent rebuilt from its key (what the damaged record held is lost)."""

ID_PREFIXES = {
    entry.batch_id_prefix: entry.name for entry in PROVIDERS.values() if entry.batch_id_prefix
}
"""Whose batch an id is, by its prefix, where the intent does not say."""

CredentialsFor = Credentials | Callable[[str], Credentials]
"""Credentials, or a function of the provider's name that gives them."""


def provider_for(recorded: str, given: str | None, batch_id: str | None) -> str:
    """The provider an intent's batch is at: recorded, else given, else by the id's prefix."""
    if recorded != UNKNOWN:
        if given is not None and given != recorded:
            raise ConfigurationError(
                f"the intent is for provider {recorded!r}, not {given!r}: leave out provider"
            )
        return recorded
    if given is not None:
        return given
    # the longest prefix wins: one provider's prefix may begin another's
    for prefix in sorted(ID_PREFIXES, key=len, reverse=True):
        if batch_id is not None and batch_id.startswith(prefix):
            return ID_PREFIXES[prefix]
    raise ConfigurationError(
        "the intent was rebuilt from its key and does not say its provider: give "
        "provider='anthropic' or provider='openai' (or another provider's name)"
    )


def check_id(provider: str, batch_id: str) -> str:
    """`batch_id` if it is well-formed for `provider`, else a `ConfigurationError`."""
    try:
        return check_batch_id(provider, batch_id)
    except UnsafeURLError as exc:
        raise ConfigurationError(
            f"{exc}: copy the id from the error's candidates or the provider's console"
        ) from None


def connected(provider: str, credentials: CredentialsFor) -> BatchProvider:
    """The provider, connected with the credentials (or those the function gives for it)."""
    if not callable(credentials):
        return connect(provider, credentials)
    try:
        return connect(provider, credentials(provider))
    except ConfigurationError as exc:  # a default the caller did not choose: say how to
        raise ConfigurationError(
            f"{exc}; or name the block with credentials=<block name>"
        ) from None


def known_batch(client: BatchProvider, batch_id: str) -> BatchSnapshot | None:
    """The batch as the provider sees it, or None where it does not know it (404)."""
    try:
        return client.retrieve(client.check_batch_id(batch_id))
    except UnsafeURLError:
        return None  # no provider can know an id unfit for its URLs
    except ProviderError as exc:
        if exc.status_code == 404:
            return None
        raise


def check_adoptable(
    client: BatchProvider,
    batch_id: str,
    *,
    request_count: int,
    part_digest: str,
) -> BatchSnapshot:
    """The batch `batch_id`, checked to exist and to be the part's (size, and digest where
    the provider records one). `request_count` 0 means unknown (a rebuilt intent)."""
    snapshot = known_batch(client, batch_id)
    if snapshot is None:
        raise ConfigurationError(
            f"the provider does not know batch {batch_id} (HTTP 404): check the id, and that "
            "the credentials are for the account that made it (credentials=<block name>)"
        )
    total = snapshot.request_counts.total
    if request_count and total != request_count:
        raise ConfigurationError(
            f"batch {batch_id} holds {total} requests, but the part has {request_count}: it "
            "is not this part's batch; adopt another id, or resubmit"
        )
    if snapshot.digest is not None and snapshot.digest != part_digest:
        raise ConfigurationError(
            f"batch {batch_id} was made from other requests (its digest is not the part's): "
            "it is not this part's batch; adopt another id, or resubmit"
        )
    return snapshot


def recorded_batch_unknown(
    provider: str, batch_id: str | None, credentials: CredentialsFor
) -> bool:
    """Whether the provider does not know the batch an intent records (it may be settled)."""
    if not batch_id:
        return True
    with closing(connected(provider, credentials)) as client:
        return known_batch(client, batch_id) is None
