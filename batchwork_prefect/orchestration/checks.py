"""The checks of a batch flow's parameters that can be made before anything is paid for.

A parameter that would fail only after the batch was created, awaited and read (a webhook
without its secret, a misspelled storage block) fails the run first here, before the first
provider call: a Retry would fail the same way, and a rerun without an idempotency key
would pay for the batch again.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import closing

from prefect.blocks.system import Secret
from prefect.filesystems import WritableFileSystem

from batchwork_prefect.errors import ConfigurationError
from batchwork_prefect.orchestration._sync import sync
from batchwork_prefect.orchestration.credentials import Credentials, connect
from batchwork_prefect.orchestration.persistence import STORAGE_FORMS, resolve_storage
from batchwork_prefect.providers import split_model
from batchwork_prefect.webhooks import _checked_url, _key

SAVE_KEY_FIRST = (
    "save the key as a block and pass its name instead: `batchwork-prefect save-credentials "
    "NAME` (add `--provider NAME` for a provider other than Anthropic, e.g. `--provider "
    "openai`), or `AnthropicCredentials(api_key=...)"
    ".save('NAME')` in Python, then credentials='NAME'"
)


def refuse_raw_key(credentials: object) -> None:
    """Refuse credentials given as a mapping with an `api_key`: Prefect would store it.

    A flow run's parameters are kept on the server as given; a block's key is masked there,
    a plain dict's is not.
    """
    if isinstance(credentials, Mapping) and "api_key" in credentials:
        raise ConfigurationError(
            "credentials holds a raw api_key, which Prefect would store in the flow run's "
            f"parameters: {SAVE_KEY_FIRST}"
        )


def check_storage_form(storage: object, *, refs: bool = False) -> None:
    """Refuse a `result_storage` that is not one of the accepted forms (no I/O).

    With `refs`, a deployment's reference to a saved block (`{"$ref": ...}`, which Prefect
    loads while it validates the parameters) is accepted too.
    """
    if storage is None or (refs and isinstance(storage, Mapping) and "$ref" in storage):
        return
    if isinstance(storage, str):
        kind, slash, name = storage.partition("/")
        if kind and slash and name and "/" not in name:
            return
        problem = f"{storage!r} is not 'type/name'"
    elif isinstance(storage, WritableFileSystem):
        if storage._block_document_id is not None:
            return
        problem = f"save the {type(storage).__name__} block first (block.save('NAME'))"
    elif isinstance(storage, Mapping):
        problem = "a dict of block fields is not a saved block (save the block first)"
    else:
        problem = f"a {type(storage).__name__} is not a storage block"
    raise ConfigurationError(f"result_storage: {problem}; {STORAGE_FORMS}")


def check_webhook(url: str | None, secret_block: str | None) -> None:
    """The webhook's URL is http(s) with a host, and its secret block loads and is usable."""
    if not url:  # None, or an empty form field: no webhook
        if secret_block:
            raise ConfigurationError(
                "webhook_secret_block is set but webhook_url is empty: give the URL to POST "
                "the 'batch ended' webhook to, or leave webhook_secret_block empty"
            )
        return
    try:
        _checked_url(url)
    except ConfigurationError as exc:
        raise ConfigurationError(f"webhook_url {url!r}: {exc} (e.g. https://host/path)") from None
    if not secret_block:
        raise ConfigurationError(
            "webhook_url needs webhook_secret_block, the name of a Secret block holding the "
            "signing secret: save one with `Secret(value='whsec_...').save('NAME')` and pass "
            "webhook_secret_block='NAME'"
        )
    try:
        secret = sync(Secret.load(secret_block))
    except ValueError:
        raise ConfigurationError(
            f"webhook_secret_block {secret_block!r} is not a saved Secret block: save it "
            f"(`Secret(value='whsec_...').save({secret_block!r})`) or name a saved one "
            "(`prefect block ls`)"
        ) from None
    try:
        _key(str(secret.get()))
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"webhook_secret_block {secret_block!r}: {exc}; save it again with a usable secret"
        ) from None


def check_storage(storage: object) -> WritableFileSystem:
    """The result storage block, loaded: its form is accepted and the block exists."""
    check_storage_form(storage)
    assert storage is None or isinstance(storage, str | WritableFileSystem)  # checked above
    return resolve_storage(storage)


def check_credentials(model: str, credentials: Credentials) -> str:
    """The credentials resolve to a usable block (or env vars) of the model's provider:
    where its batches live (`BatchProvider.endpoint`)."""
    refuse_raw_key(credentials)
    name, _ = split_model(model)
    with closing(connect(name, credentials)) as provider:
        return provider.endpoint  # connecting loads and checks; it calls nothing yet


def check_run(
    model: str,
    credentials: Credentials,
    result_storage: object,
    webhook_url: str | None,
    webhook_secret_block: str | None,
) -> tuple[str, WritableFileSystem]:
    """Every check of `run_batch`'s parameters that needs no provider call, in one place:
    the provider's endpoint and the result storage, loaded."""
    endpoint = check_credentials(model, credentials)
    storage = check_storage(result_storage)
    check_webhook(webhook_url, webhook_secret_block)
    return endpoint, storage
