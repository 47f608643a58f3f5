"""`batchwork-prefect resolve-submission`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ._shared import SERVER_NEEDED, api_url, fail, prefect_api, require_server

if TYPE_CHECKING:
    from prefect.filesystems import WritableFileSystem


def resolve_submission_command(
    intent_key: Annotated[
        str, typer.Argument(help="The intent's key, from the error message.", metavar="INTENT_KEY")
    ],
    adopt: Annotated[
        str | None,
        typer.Option(help="The provider batch id that is this part's batch.", metavar="BATCH_ID"),
    ] = None,
    resubmit: Annotated[
        bool,
        typer.Option(
            "--resubmit", help="No batch was made for this part: create it on the next run."
        ),
    ] = False,
    storage: Annotated[
        str | None,
        typer.Option(
            help="The run's result_storage block as 'type/name', e.g. s3-bucket/results "
            "(needs PREFECT_API_URL; default: the default result storage).",
            metavar="TYPE/NAME",
        ),
    ] = None,
    credentials: Annotated[
        str | None,
        typer.Option(
            help="The saved credentials block the batch is checked with (needs "
            "PREFECT_API_URL; default: the block named after the provider, e.g. anthropic, "
            "or without PREFECT_API_URL the provider's env vars).",
            metavar="NAME",
        ),
    ] = None,
    provider: Annotated[
        str | None,
        typer.Option(
            help="The batch's provider (e.g. anthropic or openai), where the intent was rebuilt "
            "from its key (default: told by the batch id's prefix)."
        ),
    ] = None,
) -> None:
    """Settle a submit whose answer was lost and could not be matched: adopt a batch or resubmit.

    Give exactly one of --adopt BATCH_ID or --resubmit. An adopted id is checked at the
    provider first (it exists and holds the part's request count). An intent that already
    records a batch can be settled again only when the provider does not know that batch.
    """
    if (adopt is None) == (not resubmit):
        raise typer.BadParameter(
            "give exactly one of --adopt BATCH_ID or --resubmit",
            param_hint="'--adopt' / '--resubmit'",
        )
    if adopt is not None and not adopt.strip():
        raise typer.BadParameter("the batch id is empty", param_hint="'--adopt'")
    if storage is not None:
        block_type, slash, block_name = storage.partition("/")
        if not (block_type and slash and block_name) or "/" in block_name:
            raise typer.BadParameter(
                f"{storage!r} is not 'type/name' (e.g. local-file-system/results; "
                "`prefect block ls` lists them)",
                param_hint="'--storage'",
            )
        require_server()
    if credentials is not None:
        require_server()

    from batchwork_prefect.errors import BatchworkError
    from batchwork_prefect.orchestration.adoption import CredentialsFor
    from batchwork_prefect.orchestration.intents import resolve_submission

    where = storage if storage is not None else _default_storage()
    checked_with: CredentialsFor = credentials
    if credentials is None and api_url() is not None:
        checked_with = _named_after  # the block save-credentials names after the provider
    try:
        with prefect_api():
            settled = resolve_submission(
                intent_key,
                adopt=adopt,
                resubmit=resubmit,
                storage=where,
                credentials=checked_with,
                provider=provider,
            )
    except BatchworkError as exc:
        fail(_in_flags(str(exc)))
    except ValueError as exc:  # Prefect's answer for a block that does not load
        if storage is None:
            raise
        fail(f"--storage {storage}: {exc}; `prefect block ls` lists the saved blocks")
    outcome = f"adopts {settled.batch_id}" if settled.batch_id else "will create the part anew"
    typer.echo(f"{intent_key}: the next run {outcome}; rerun the flow run now")


def _named_after(provider: str) -> str:
    return provider


def _default_storage() -> WritableFileSystem | None:
    """The default result storage, read without a Prefect server when none is configured.

    With PREFECT_API_URL set, None (Prefect resolves it, server default included). Without
    it, the local storage path, unless PREFECT_RESULTS_DEFAULT_STORAGE_BLOCK names a block,
    which needs the server.
    """
    if api_url() is not None:
        return None
    from prefect.filesystems import LocalFileSystem
    from prefect.settings import get_current_settings

    results = get_current_settings().results
    if results.default_storage_block is not None:
        fail(
            f"the default result storage is a block ({results.default_storage_block}); "
            + SERVER_NEEDED
        )
    return LocalFileSystem(basepath=str(results.local_storage_path))


_LIBRARY_WORDS = (
    ("adopt=<batch id>", "--adopt BATCH_ID"),
    ("resubmit=True", "--resubmit"),
    ("provider='anthropic' or provider='openai'", "--provider anthropic or --provider openai"),
    ("leave out provider", "leave out --provider"),
    ("credentials=<block name>", "--credentials NAME"),
)


def _in_flags(message: str) -> str:
    """A library message with its Python parameters said as this command's flags."""
    for python, flag in _LIBRARY_WORDS:
        message = message.replace(python, flag)
    return message
