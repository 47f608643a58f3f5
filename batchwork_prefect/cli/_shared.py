"""Helpers of every command: one-line failures, the Prefect server they need."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

SERVER_NEEDED = (
    "PREFECT_API_URL is not set: start a server (`prefect server start`) and "
    "`export PREFECT_API_URL=http://127.0.0.1:4200/api`, or use Prefect Cloud "
    "(`prefect cloud login`)"
)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: <message>` on stderr, one line, and exit with `code`."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def api_url() -> str | None:
    """The Prefect API the commands talk to (profile or environment), or None."""
    from prefect.settings import PREFECT_API_URL

    value = PREFECT_API_URL.value()
    return str(value) if value else None


def require_server() -> None:
    """Refuse to go on without a Prefect server: Prefect would start a throwaway one."""
    if api_url() is None:
        fail(SERVER_NEEDED)


@contextmanager
def prefect_api() -> Iterator[None]:
    """Turn a failed call to the Prefect API into one line that says what to check."""
    import httpx

    try:
        yield
    except httpx.HTTPError as exc:
        fail(
            f"the Prefect API at {api_url()} failed: {exc}; check that the server runs "
            "and that PREFECT_API_URL points at it"
        )
