"""`batchwork-prefect save-credentials`."""

from __future__ import annotations

import os
import re
from typing import Annotated
from urllib.parse import urlsplit

import typer

from ._shared import fail, prefect_api, require_server

EMULATOR_KEY = "emulator"
"""The API key saved for a loopback emulator URL when no key is set (the emulator takes any)."""


_BLOCK_NAME = re.compile(r"[a-z0-9-]+")


def save_credentials_command(
    name: Annotated[
        str | None,
        typer.Argument(
            help="Block name (lowercase letters, digits, dashes); default: the provider's name.",
            metavar="NAME",
        ),
    ] = None,
    provider: Annotated[
        str,
        typer.Option(
            help="The provider whose block this is, e.g. anthropic or openai (a provider "
            "without a block is refused with the list of those that have one)."
        ),
    ] = "anthropic",
    base_url: Annotated[
        str | None,
        typer.Option(
            help="The API base URL, e.g. the emulator's http://127.0.0.1:8787 (openai: with "
            "/v1, http://127.0.0.1:8787/v1) (default: the provider's own)."
        ),
    ] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            help="Environment variable holding the API key (default: the provider's own, "
            "e.g. ANTHROPIC_API_KEY or OPENAI_API_KEY).",
            metavar="VAR",
        ),
    ] = None,
    organization: Annotated[
        str | None,
        typer.Option(help="The organization id sent as OpenAI-Organization (openai only)."),
    ] = None,
    project: Annotated[
        str | None,
        typer.Option(help="The project id sent as OpenAI-Project (openai only)."),
    ] = None,
) -> None:
    """Save a credentials block for a provider (replacing one of the same name).

    The API key is read from the environment (the provider's variable, or the one
    --api-key-env names), else asked for in a hidden prompt. With a loopback http
    --base-url (the emulator) the key is the placeholder "emulator" unless --api-key-env
    names one. The key is never printed. Needs PREFECT_API_URL.
    """
    from batchwork_prefect._http.auth import check_headers
    from batchwork_prefect._http.origins import check_base_url
    from batchwork_prefect.errors import ConfigurationError
    from batchwork_prefect.orchestration.credentials import credentials_block

    try:
        block_type = credentials_block(provider)
    except ConfigurationError as exc:
        raise typer.BadParameter(str(exc), param_hint="'--provider'") from None
    block_name = provider if name is None else name
    if not block_name.strip():  # '' must not fall back to, and replace, the default block
        raise typer.BadParameter(
            "the block name is empty: give a name (e.g. anthropic-prod), or leave NAME out "
            f"for the provider's default, {provider}",
            param_hint="'NAME'",
        )
    if not _BLOCK_NAME.fullmatch(block_name):
        raise typer.BadParameter(
            f"{block_name!r} is not a block name: use lowercase letters, digits and dashes "
            "(e.g. anthropic-prod)",
            param_hint="'NAME'",
        )
    scoped = {"organization": organization, "project": project}
    given = {field: value for field, value in scoped.items() if value is not None}
    unknown = sorted(set(given) - set(block_type.model_fields))
    if unknown:
        raise typer.BadParameter(
            f"{provider} credentials have no {unknown[0]}: leave out --{unknown[0]}",
            param_hint=f"'--{unknown[0]}'",
        )
    for field, value in given.items():
        try:  # sent as a header on every request: refuse now what would fail each run
            check_headers({f"openai-{field}": value})
        except ConfigurationError:
            raise typer.BadParameter(
                f"{value!r} cannot be sent as an HTTP header: use printable ASCII only",
                param_hint=f"'--{field}'",
            ) from None
    if base_url is not None:
        try:  # as every run would check it; the message never shows a password
            check_base_url(base_url)
        except ConfigurationError as exc:
            raise typer.BadParameter(
                f"{exc} (e.g. http://127.0.0.1:8787 for the emulator)", param_hint="'--base-url'"
            ) from None
    require_server()
    from batchwork_prefect.registry import PROVIDERS

    variables = (api_key_env,) if api_key_env else PROVIDERS[provider].api_key_env
    key = next((os.environ[var] for var in variables if os.environ.get(var)), None)
    if key is None and api_key_env is not None:
        fail(f"{api_key_env} is not set: export it, or leave out --api-key-env to be prompted", 2)
    if api_key_env is None and base_url is not None and _is_loopback_http(base_url):
        key = EMULATOR_KEY  # a real key from the environment never goes to a local emulator
    if key is None:
        key = str(typer.prompt(f"{provider} API key", hide_input=True))
    block = block_type(api_key=key, base_url=base_url, **given)
    with prefect_api():
        block.save(block_name, overwrite=True)
    where = f"base_url {base_url}" if base_url else "the provider's default base_url"
    typer.echo(f"saved {block_type.get_block_type_slug()}/{block_name} ({where})")


def _is_loopback_http(url: str) -> bool:
    """Whether `url` is plain http on this machine (the emulator)."""
    from batchwork_prefect._http.origins import is_loopback

    parts = urlsplit(url)
    return parts.scheme == "http" and bool(parts.hostname) and is_loopback(parts.hostname or "")
