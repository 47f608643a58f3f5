"""The API origin: a base URL checked, userinfo dropped, loopback told, origins compared."""

from __future__ import annotations

import ipaddress

import httpx

from batchwork_prefect.errors import (
    ConfigurationError,
)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def check_base_url(base_url: str) -> httpx.URL:
    """The parsed base URL, if it is https (or http to a loopback host) and carries no secrets.

    Raises `ConfigurationError` otherwise; its message never shows a user:password@ part.
    """
    shown = without_userinfo(str(base_url))
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        # httpx's reason may quote a part of the URL: left out when it could hold a password.
        reason = "" if "@" in str(base_url) else f": {exc}"
        raise ConfigurationError(f"base_url {shown!r} is not a valid URL{reason}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"base_url {shown!r} must be an absolute http(s) URL")
    if url.userinfo:
        raise ConfigurationError(
            f"base_url {shown!r} must not carry a user or password (user:password@): the "
            "API key goes in api_key (or the provider's API key variable), never in the URL"
        )
    if url.query or url.fragment:
        raise ConfigurationError(
            "base_url must not carry a query or a fragment: give scheme://host[:port][/path]"
        )
    if url.scheme == "http" and not is_loopback(url.host):
        raise ConfigurationError(
            f"base_url {base_url!r} must use https; plain http is allowed only for loopback hosts"
        )
    return url


def without_userinfo(url: str) -> str:
    """`url` with anything between its scheme and its last `@` as `***`, parsable or not."""
    at = url.rfind("@")
    if at < 0:
        return url
    scheme_end = url.rfind("://", 0, at)
    start = scheme_end + 3 if scheme_end >= 0 else 0
    return f"{url[:start]}***{url[at:]}"


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin(url: httpx.URL) -> tuple[str, str, int]:
    """`(scheme, host, port)` with the scheme's default port filled in."""
    port = url.port if url.port is not None else _DEFAULT_PORTS.get(url.scheme, 0)
    return (url.scheme, url.host.lower(), port)
