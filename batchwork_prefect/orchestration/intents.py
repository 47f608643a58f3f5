"""A part's submit intent: its states, how it is read and written, what a rerun takes from
storage, and how a person settles one by hand (`resolve_submission`).

Before the create an intent is written to the result storage; after the answer it records
the batch id (see `submission`). It also records where the batch lives (`endpoint`), so a
scope's records are never used through credentials that point elsewhere.
"""

from __future__ import annotations

import itertools
import re
from contextlib import closing
from datetime import UTC, datetime
from enum import StrEnum

from prefect.filesystems import WritableFileSystem
from pydantic import BaseModel, ValidationError

from batchwork_prefect.core import BuiltBatch
from batchwork_prefect.errors import ConfigurationError, StoredRecordError
from batchwork_prefect.orchestration._sync import sync
from batchwork_prefect.orchestration.adoption import (
    UNKNOWN,
    CredentialsFor,
    check_adoptable,
    check_id,
    connected,
    provider_for,
    recorded_batch_unknown,
)
from batchwork_prefect.orchestration.claims import read_claim
from batchwork_prefect.orchestration.persistence import (
    PREFIX,
    intent_key,
    part_ref,
    read_optional,
    resolve_storage,
    results_key,
)


class IntentState(StrEnum):
    """How far the create of one part got, as its intent records it."""

    PENDING = "pending"
    """The create was sent or is about to be; its outcome is unknown."""
    CREATED = "created"
    """`batch_id` is this part's provider batch."""
    NOT_CREATED = "not_created"
    """The provider refused the create: no batch was made."""
    RESUBMIT = "resubmit"
    """Someone settled that no batch was made: the next attempt creates the part anew."""


class SubmitIntent(BaseModel):
    """What `submit_part` was doing for one part: written before the create, then updated.

    `state` says how far the create got (`IntentState`); `batch_id` is set once created.
    """

    provider: str
    model: str
    digest: str
    part: int
    part_digest: str
    request_count: int
    attempted_at: datetime
    state: IntentState
    batch_id: str | None = None
    note: str | None = None
    endpoint: str | None = None
    """Where the part's batch lives (`BatchProvider.endpoint`); None in older records."""


def read_intent(storage: WritableFileSystem, key: str) -> SubmitIntent | None:
    """The intent at `key`, or None if there is none; a damaged one raises.

    A damaged intent says nothing about whether the part's batch was made, so nothing is
    created until someone settles it (`StoredRecordError` says how).
    """
    data = read_optional(storage, key)
    if data is None:
        return None
    try:
        return SubmitIntent.model_validate_json(data)
    except ValidationError as exc:
        raise StoredRecordError(
            f"the submit intent at {key!r} is damaged ({exc.error_count()} problems, first: "
            f"{exc.errors()[0]['msg']}); nothing was created. Check the provider's batches, "
            f"then settle it: `batchwork-prefect resolve-submission {key} --adopt <batch id>` "
            "or `--resubmit`",
            key=key,
        ) from None


def write_intent(storage: WritableFileSystem, key: str, intent: SubmitIntent) -> None:
    """Write (or overwrite) the intent at `key`."""
    sync(storage.write_path(key, intent.model_dump_json(indent=2).encode()))


def checked_intent(
    storage: WritableFileSystem, scope: str, built: BuiltBatch, part: int, endpoint: str
) -> SubmitIntent | None:
    """The part's intent (None if there is none), refused when another endpoint made it.

    A scope's batches exist only where they were created: resuming them, or returning their
    stored results, through credentials that point elsewhere would answer from the wrong
    provider. Records older than the endpoint's field are not checked.
    """
    key = intent_key(scope, part_ref(built, part))
    intent = read_intent(storage, key)
    if intent is None or intent.endpoint is None or intent.endpoint == endpoint:
        return intent
    raise ConfigurationError(
        f"the records of scope {scope!r} were made at {intent.endpoint}, but this run's "
        f"credentials point to {endpoint} ({key}); its batches and stored results belong "
        "to the first. Use another idempotency_key for this endpoint, or credentials "
        "that point where the records were made"
    )


def stored_parts(
    storage: WritableFileSystem, scope: str, built: BuiltBatch, endpoint: str
) -> list[str]:
    """What a rerun takes from storage instead of the provider, one line a part (for logs),
    each part's records checked to be `endpoint`'s (`checked_intent`) in the same look."""
    lines = []
    for part in range(len(built.parts)):
        ref = part_ref(built, part)
        intent = checked_intent(storage, scope, built, part, endpoint)
        if intent is None or intent.state is not IntentState.CREATED:
            continue
        if read_optional(storage, results_key(scope, ref)) is not None:
            lines.append(
                f"Part {part} (batch {intent.batch_id}) was read earlier: its results come "
                f"from storage ({results_key(scope, ref)}), the provider is not called"
            )
        else:
            lines.append(f"Part {part} was created earlier as batch {intent.batch_id}")
    return lines


def resolve_submission(
    key: str,
    *,
    adopt: str | None = None,
    resubmit: bool = False,
    storage: WritableFileSystem | str | None = None,
    credentials: CredentialsFor = None,
    provider: str | None = None,
) -> SubmitIntent:
    """Settle an intent whose create answer was lost: adopt a batch id, or allow a resubmit.

    The next run of the flow then uses the adopted batch, or creates the part anew. A
    damaged intent is replaced by one rebuilt from what its key says (digest and part).

    An adopted id is checked before it is recorded: well-formed for the intent's provider,
    known to the provider (retrieved with `credentials`: a block, a saved block's name, or
    None for the provider's env vars), and holding the part's request count. An intent that
    already records a batch is settled again only when the provider does not know that
    batch. `provider` names the provider where the intent does not (one rebuilt from its
    key); else it is told by the id's prefix.
    """
    if (adopt is None) == (not resubmit):
        raise ConfigurationError("give exactly one of adopt=<batch id> or resubmit=True")
    block = resolve_storage(storage)
    try:
        intent = read_intent(block, key)
    except StoredRecordError:
        intent = _rebuilt_intent(key)
    if intent is None:
        raise ConfigurationError(f"no submit intent at {key!r}")
    _refuse_while_held(block, key)
    name = intent.provider
    if adopt is not None or intent.state is IntentState.CREATED:
        name = provider_for(intent.provider, provider, adopt or intent.batch_id)
    if adopt is not None:
        check_id(name, adopt)
    if intent.state is IntentState.CREATED and not recorded_batch_unknown(
        name, intent.batch_id, credentials
    ):
        raise ConfigurationError(
            f"{key!r} already records batch {intent.batch_id}, which the provider knows; "
            "nothing to settle"
        )
    if adopt is not None:
        with closing(connected(name, credentials)) as client:
            check_adoptable(
                client, adopt, request_count=intent.request_count, part_digest=intent.part_digest
            )
    settled = intent.model_copy(
        update={
            "provider": name,
            "state": IntentState.CREATED if adopt else IntentState.RESUBMIT,
            "batch_id": adopt,
            "note": "settled by hand",
        }
    )
    write_intent(block, key, settled)
    return settled


def _refuse_while_held(storage: WritableFileSystem, key: str) -> None:
    """Refuse to settle a part whose claim a live process holds: its create may land yet."""
    folder = key.rsplit("/", 1)[0]
    now = datetime.now(UTC)
    for generation in itertools.count():
        claim = read_claim(storage, f"{folder}/claim-{generation}.json")
        if claim is None:
            return
        if not claim.released and claim.expires_at > now:
            raise ConfigurationError(
                f"part {folder!r} is being created by flow run {claim.flow_run_id} now (its "
                f"claim holds until {claim.expires_at.isoformat(timespec='seconds')} unless "
                "renewed): let that run finish, or stop it, then settle it if it is still "
                "unsettled"
            )


_INTENT_KEY = re.compile(
    rf"{PREFIX}/.+/(?P<digest>[0-9a-f]{{64}})/part-(?P<part>[0-9]+)-(?P<part_digest>[0-9a-f]{{16}})"
    r"/intent\.json"
)


def _rebuilt_intent(key: str) -> SubmitIntent:
    """A pending intent for the part a damaged intent's key names (what it held is lost)."""
    found = _INTENT_KEY.fullmatch(key)
    if found is None:
        raise ConfigurationError(f"{key!r} is not the key of a part's intent.json")
    return SubmitIntent(
        provider=UNKNOWN,
        model=UNKNOWN,
        digest=found["digest"],
        part=int(found["part"]),
        part_digest=found["part_digest"],
        request_count=0,
        attempted_at=datetime.now(UTC),
        state=IntentState.PENDING,
        note="rebuilt from its key: the stored intent was damaged",
    )
