"""The `batchwork-prefect` command: demo, emulator, save-credentials, install-automations and
resolve-submission.

Prefect and the emulator are imported inside the commands, so `--help` and `--version` stay
quick.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, NoReturn
from urllib.parse import urlsplit

import typer

app = typer.Typer(help="Run LLM message batches as durable Prefect flows.", no_args_is_help=True)

EMULATOR_KEY = "emulator"
"""The API key saved for a loopback emulator URL when no key is set (the emulator takes any)."""


_PROVIDERS: dict[str, str] = {"anthropic": "ANTHROPIC_API_KEY"}
"""Each provider's name and the environment variable that holds its API key."""

_SERVER_NEEDED = (
    "PREFECT_API_URL is not set: start a server (`prefect server start`) and "
    "`export PREFECT_API_URL=http://127.0.0.1:4200/api`, or use Prefect Cloud "
    "(`prefect cloud login`)"
)
_BLOCK_NAME = re.compile(r"[a-z0-9-]+")


def _fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: <message>` on stderr, one line, and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _api_url() -> str | None:
    """The Prefect API the commands talk to (profile or environment), or None."""
    from prefect.settings import PREFECT_API_URL

    value = PREFECT_API_URL.value()
    return str(value) if value else None


def _require_server() -> None:
    """Refuse to go on without a Prefect server: Prefect would start a throwaway one."""
    if _api_url() is None:
        _fail(_SERVER_NEEDED)


@contextmanager
def _prefect_api() -> Iterator[None]:
    """Turn a failed call to the Prefect API into one line that says what to check."""
    import httpx

    try:
        yield
    except httpx.HTTPError as exc:
        _fail(
            f"the Prefect API at {_api_url()} failed: {exc}; check that the server runs "
            "and that PREFECT_API_URL points at it"
        )


def _is_loopback_http(url: str) -> bool:
    """Whether `url` is plain http on this machine (the emulator)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


@app.command("save-credentials")
def save_credentials_command(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Block name (lowercase letters, digits, dashes); default: the provider's name.",
            metavar="NAME",
        ),
    ] = None,
    provider: Annotated[
        str, typer.Option(help=f"The provider: {', '.join(sorted(_PROVIDERS))}.")
    ] = "anthropic",
    base_url: Annotated[
        str | None,
        typer.Option(
            help="The API base URL, e.g. the emulator's http://127.0.0.1:8787 "
            "(default: the provider's own)."
        ),
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding the API key (default: the provider's, "
            "e.g. ANTHROPIC_API_KEY).",
            metavar="VAR",
        ),
    ] = None,
) -> None:
    """Save a credentials block for a provider (replacing one of the same name).

    The API key comes from the provider's environment variable (or --api-key-env), else a
    hidden prompt; for a loopback http --base-url (the emulator) a missing key becomes the
    placeholder "emulator". The key is never printed. Needs PREFECT_API_URL.
    """
    if provider not in _PROVIDERS:
        known = ", ".join(sorted(_PROVIDERS))
        raise typer.BadParameter(
            f"unknown provider {provider!r}; choose {known}", param_hint="'--provider'"
        )
    block_name = name or provider
    if not _BLOCK_NAME.fullmatch(block_name):
        raise typer.BadParameter(
            f"{block_name!r} is not a block name: use lowercase letters, digits and dashes "
            "(e.g. anthropic-prod)",
            param_hint="'NAME'",
        )
    if base_url is not None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise typer.BadParameter(
                f"{base_url!r} is not an http(s) URL (e.g. http://127.0.0.1:8787)",
                param_hint="'--base-url'",
            )
    _require_server()
    key = os.environ.get(api_key_env or _PROVIDERS[provider]) or None
    if key is None and api_key_env is not None:
        _fail(f"{api_key_env} is not set: export it, or leave out --api-key-env to be prompted", 2)
    if key is None and base_url is not None and _is_loopback_http(base_url):
        key = EMULATOR_KEY
    if key is None:
        key = str(typer.prompt(f"{provider} API key", hide_input=True))

    from batchwork_prefect.orchestration.credentials import AnthropicCredentials

    blocks = {"anthropic": AnthropicCredentials}
    block_type = blocks[provider]
    block = block_type(api_key=key, base_url=base_url)
    with _prefect_api():
        block.save(block_name, overwrite=True)
    where = f"base_url {base_url}" if base_url else "the provider's default base_url"
    typer.echo(f"saved {block_type.get_block_type_slug()}/{block_name} ({where})")


@app.command()
def demo(
    processing_seconds: Annotated[
        float, typer.Option(help="How long the emulated batch takes.", min=0)
    ] = 1.0,
) -> None:
    """Run the capital-cities batch end to end against the built-in emulator."""
    from batchwork_prefect.demo import run_demo

    run_demo(processing_seconds=processing_seconds, echo=typer.echo)


@app.command()
def emulator(
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 8787,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    processing_seconds: Annotated[
        float, typer.Option(help="Emulated seconds from create to end.", min=0)
    ] = 5.0,
    gradual_counts: Annotated[
        bool, typer.Option(help="Move request counts while the batch runs.")
    ] = False,
    api_key: Annotated[
        str | None, typer.Option(help="Require this x-api-key.", envvar="EMULATOR_API_KEY")
    ] = None,
    time_scale: Annotated[
        float, typer.Option(help="Emulated seconds per real second.", min=0)
    ] = 1.0,
) -> None:
    """Serve the Anthropic Message Batches emulator until interrupted."""
    from batchwork_prefect.emulator import Emulator

    server = Emulator(
        host=host,
        port=port,
        api_key=api_key,
        processing_seconds=processing_seconds,
        gradual_counts=gradual_counts,
        time_scale=time_scale,
    )
    server.start()
    typer.echo(f"Anthropic batches emulator on {server.base_url} (Ctrl-C to stop)")
    server.serve_forever()


@app.command("install-automations")
def install_automations_command(
    tag: Annotated[
        str, typer.Option(help="Flow runs with this tag are watched (prefect.yaml's tag).")
    ] = "batchwork",
    zombie_after: Annotated[
        float,
        typer.Option(
            help="Seconds without a heartbeat after which a running flow run counts as crashed; "
            "keep it well above PREFECT_FLOWS_HEARTBEAT_FREQUENCY.",
            min=1,
        ),
    ] = 300.0,
    resume_within: Annotated[
        float,
        typer.Option(
            help="Seconds after a flow run starts during which a crash is resumed (default "
            "3 days); keep it above the longest batch wait.",
            min=1,
        ),
    ] = 3 * 24 * 3600.0,
    resume_after: Annotated[
        float,
        typer.Option(
            help="Seconds a crashed run stays still before it is resumed, so the worker's "
            "own late crash report lands first (at least 10).",
            min=10,
        ),
    ] = 30.0,
) -> None:
    """Install the automations that resume crashed batchwork flow runs (idempotent)."""
    from datetime import timedelta

    from batchwork_prefect.orchestration.automations import install_automations

    windows = (
        timedelta(seconds=zombie_after),
        timedelta(seconds=resume_within),
        timedelta(seconds=resume_after),
    )
    for name in install_automations(tag, *windows):
        typer.echo(f"installed automation {name!r}")


@app.command("resolve-submission")
def resolve_submission_command(
    intent_key: Annotated[str, typer.Argument(help="The intent's key, from the error message.")],
    adopt: Annotated[
        str | None, typer.Option(help="The provider batch id that is this part's batch.")
    ] = None,
    resubmit: Annotated[
        bool, typer.Option(help="No batch was made for this part: create it on the next run.")
    ] = False,
    storage: Annotated[
        str | None,
        typer.Option(
            help="The run's result_storage block as 'type/name' (default storage if unset)."
        ),
    ] = None,
) -> None:
    """Settle a submit whose answer was lost and could not be matched: adopt a batch or resubmit."""
    from batchwork_prefect.errors import BatchworkError
    from batchwork_prefect.orchestration.submission import resolve_submission

    try:
        settled = resolve_submission(intent_key, adopt=adopt, resubmit=resubmit, storage=storage)
    except BatchworkError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    outcome = f"adopts {settled.batch_id}" if settled.batch_id else "will create the part anew"
    typer.echo(f"{intent_key}: the next run {outcome}; rerun the flow run now")


def main() -> None:
    """Entry point of the `batchwork-prefect` script."""
    app()


if __name__ == "__main__":
    main()
