"""Credentials on the wire: the API key resolved and checked, caller headers checked."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from pydantic import SecretStr

from batchwork_prefect.errors import (
    ConfigurationError,
)

FRAMING_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "host", "content-type", "connection"}
)
"""Headers the HTTP client sets from the request itself; a caller's copy would contradict it."""

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an RFC 9110 token
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")  # printable ASCII: what httpx encodes as is


_API_KEY_CHARS = re.compile(r"[\x21-\x7e]+")


def resolve_api_key(given: str | SecretStr | None, env: str, label: str) -> SecretStr:
    """The API key given, else the one in the `env` variable; `ConfigurationError` if none.

    Checked here: sent as is, a stray newline would fail every request, and the HTTP
    library's error would quote the whole key.
    """
    key = given if given is not None else os.environ.get(env)
    if not key:
        raise ConfigurationError(f"no {label} API key: pass api_key=... or set {env}")
    secret = key if isinstance(key, SecretStr) else SecretStr(key)
    if not _API_KEY_CHARS.fullmatch(secret.get_secret_value()):
        raise ConfigurationError(
            f"the {label} API key contains spaces, newlines or non-ASCII characters; "
            "check it was copied whole (a key read from a file keeps its trailing newline)"
        )
    return secret


def check_headers(
    headers: Mapping[str, str] | None, *, reserved: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Caller headers keyed by lowercase name, each one sendable; else `ConfigurationError`.

    Header names are case-insensitive, so they are lowercased here once: merged with the
    client's own, a mixed-case copy would otherwise be sent beside them. Framing headers and
    the names in `reserved` (name: what to do instead) are refused. Values are never shown
    in the errors: a header may carry a secret.
    """
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise ConfigurationError(
            f"headers must be a dict of header names to values, not {type(headers).__name__}"
        )
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise ConfigurationError(
                f"header name {name!r} cannot be sent: use letters, digits and '-' only"
            )
        key = name.lower()
        if key in FRAMING_HEADERS:
            raise ConfigurationError(
                f"header {name!r} cannot be set: the HTTP client sets it from the request; "
                "remove it from headers"
            )
        if reserved and key in reserved:
            raise ConfigurationError(f"header {name!r} cannot be set: {reserved[key]}")
        if not isinstance(value, str) or not _HEADER_VALUE.fullmatch(value):
            raise ConfigurationError(
                f"the value of header {name!r} cannot be sent: it must be a string of "
                "printable ASCII characters (no newlines, control or non-ASCII characters)"
            )
        if key in checked:
            raise ConfigurationError(
                f"header {name!r} is given twice (header names ignore case); keep one"
            )
        checked[key] = value
    return checked
