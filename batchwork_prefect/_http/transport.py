"""The HTTP layer every provider shares: one API origin, retries, and error mapping."""

from __future__ import annotations

import ipaddress
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from batchwork_prefect._http.body import Body
from batchwork_prefect._http.retry import retry_delay, should_retry_status
from batchwork_prefect._http.secrets import scrub
from batchwork_prefect.errors import (
    ConfigurationError,
    MaybeSentError,
    ProviderError,
    TransportError,
    UnsafeURLError,
)

DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
DEFAULT_MAX_RETRIES = 4

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Retry(Enum):
    """How a request may be retried."""

    IDEMPOTENT = "idempotent"
    """Retry error statuses and every connection failure (GET, list, cancel, results)."""

    UNLESS_SENT = "unless_sent"
    """Retry failures to connect and answers proving nothing was done (408, 429, 529); never
    a failure after the body left, nor another error answer (a create)."""


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


_CLEAN_KEPT = 4096
_CLEAN_TEXT_MAX = 1024
"""How many provider texts free of secrets a transport remembers, and how long each may be."""


class Transport:
    """An httpx client bound to one API origin.

    It retries what is safe to retry, maps error answers to `ProviderError`, never follows
    redirects, and sends the auth headers only to its own origin. `secrets` (default: the
    auth header values) are scrubbed from every provider text it puts in an error.
    """

    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        auth_headers: Callable[[], Mapping[str, str]],
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        secrets: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = check_base_url(base_url)
        self._origin = origin(self.base_url)
        self._auth_headers = auth_headers
        self._secrets = secrets or (lambda: auth_headers().values())
        self._clean: set[str] = set()
        self._headers = check_headers(headers)
        self.max_retries = max_retries
        self._sleep = sleep
        self._owns_client = client is None
        self._client = client or httpx.Client(
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout, follow_redirects=False
        )

    def url(self, path: str) -> httpx.URL:
        """The URL of an API path under the base URL."""
        return self.base_url.copy_with(path=self.base_url.path.rstrip("/") + path)

    def check_same_origin(self, url: str) -> httpx.URL:
        """`url` parsed, if it is on the configured API origin; else `UnsafeURLError`."""
        try:
            parsed = self.base_url.join(url)
        except httpx.InvalidURL:
            raise UnsafeURLError(f"refusing malformed URL {url!r} from {self.provider}") from None
        if origin(parsed) != self._origin:
            scheme, host, port = self._origin
            raise UnsafeURLError(
                f"refusing to send credentials to {url!r}: it is not on the configured API "
                f"origin {scheme}://{host}:{port}"
            )
        return parsed

    def request(
        self,
        method: str,
        url: httpx.URL,
        *,
        retry: Retry,
        content: bytes | Body | None = None,
        params: Mapping[str, str | int] | None = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        """Send a request and read the whole answer; error statuses raise `ProviderError`.

        An answer cut before its end is asked for again where `retry` allows it; for a
        create it raises `MaybeSentError`, as a lost answer does. One budget of
        `max_retries` covers every retry of the call: failed sends and cut answers alike.
        """
        budget = _Budget()
        while True:
            try:
                with self.stream(
                    method,
                    url,
                    retry=retry,
                    content=content,
                    params=params,
                    content_type=content_type,
                    budget=budget,
                ) as response:
                    response.read()
                    return response
            except (httpx.TransportError, httpx.StreamError) as exc:
                where = {"method": method, "url": _redacted(url)}
                if retry is Retry.UNLESS_SENT:
                    raise MaybeSentError(
                        f"the answer was cut: {self._describe(exc)}", **where
                    ) from None
                if budget.used >= self.max_retries:
                    raise TransportError(
                        f"the answer kept being cut: {self._describe(exc)}", **where
                    ) from None
                self._sleep(retry_delay(budget.used))
                budget.used += 1

    @contextmanager
    def stream(
        self,
        method: str,
        url: httpx.URL,
        *,
        retry: Retry,
        content: bytes | Body | None = None,
        params: Mapping[str, str | int] | None = None,
        content_type: str = "application/json",
        budget: _Budget | None = None,
    ) -> Iterator[httpx.Response]:
        """Send a request and yield the 2xx answer with its body not yet read; `budget`
        counts the retries spent (a caller that retries too passes its own)."""
        if origin(url) != self._origin:
            raise UnsafeURLError(f"refusing to send credentials off the API origin: {url}")
        try:
            request = self._client.build_request(
                method,
                url,
                content=content,
                params=params,
                headers=self._request_headers(content, content_type),
            )
        except (UnicodeError, TypeError, ValueError, httpx.InvalidURL) as exc:
            # Nothing has left the machine: this is a setting to fix, never a "maybe sent".
            raise ConfigurationError(
                f"the {method} request to {_redacted(url)} could not be built "
                f"({type(exc).__name__}); check the headers and the client passed in"
            ) from None
        response = self._send_with_retries(request, retry, budget or _Budget())
        try:
            yield response
        finally:
            response.close()

    def close(self) -> None:
        """Close the connection pool, if this transport made it."""
        if self._owns_client:
            self._client.close()

    def _request_headers(self, content: bytes | Body | None, content_type: str) -> dict[str, str]:
        # Every name here is lowercase (check_headers), so a later one replaces an earlier one.
        headers = {"accept": "application/json", **self._headers, **self._auth_headers()}
        if content is not None:
            headers["content-type"] = content_type
        if isinstance(content, Body):
            headers["content-length"] = str(len(content))  # streamed, not chunked
        return headers

    def _send_with_retries(
        self, request: httpx.Request, retry: Retry, budget: _Budget
    ) -> httpx.Response:
        where = {"method": request.method, "url": _redacted(request.url)}
        while True:
            retries = budget.used
            progress = _SendProgress()
            request.extensions["trace"] = progress
            try:
                response = self._client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if retries >= self.max_retries:
                    raise TransportError(
                        f"could not connect: {self._describe(exc)}", **where
                    ) from None
                self._sleep(retry_delay(retries))
                budget.used += 1
                continue
            except httpx.TransportError as exc:
                if progress.headers_unsent:
                    # The request's head never went out whole, so no server can have acted
                    # on it: not a "maybe sent", even for a create.
                    if isinstance(exc, httpx.LocalProtocolError):  # refused before sending
                        raise ConfigurationError(
                            f"the HTTP client refused to send {where['method']} {where['url']} "
                            f"({self._describe(exc)}); check the headers and the client "
                            "passed in"
                        ) from None
                    if retries >= self.max_retries:
                        raise TransportError(
                            f"could not send the request: {self._describe(exc)}", **where
                        ) from None
                elif retry is Retry.UNLESS_SENT:
                    raise MaybeSentError(f"no answer: {self._describe(exc)}", **where) from None
                elif retries >= self.max_retries:
                    raise TransportError(
                        f"connection failed: {self._describe(exc)}", **where
                    ) from None
                self._sleep(retry_delay(retries))
                budget.used += 1
                continue
            if response.is_success:
                return response
            retryable = should_retry_status(
                response.status_code,
                response.headers,
                only_if_not_processed=retry is Retry.UNLESS_SENT,
            )
            if retryable and retries < self.max_retries:
                response.close()
                self._sleep(retry_delay(retries, response.headers))
                budget.used += 1
                continue
            try:
                response.read()
            except httpx.TransportError:
                pass
            finally:
                response.close()
            raise provider_error(self.provider, response, secrets=list(self._secrets()))

    def _describe(self, exc: Exception) -> str:
        """`_describe(exc)` with the auth header values blanked (h11 quotes a bad header)."""
        text = _describe(exc)
        for secret in self._auth_headers().values():
            if secret:
                text = text.replace(secret, "<redacted>")
        return scrub(text, self._secrets())

    def scrub(self, text: str) -> str:
        """`text` from the provider with the secrets, whole, masked or in part, redacted."""
        # A batch's error lines repeat a few messages thousands of times, and the piece scan
        # costs tens of microseconds. Only short texts that held no secret are remembered:
        # the memo must not become a second copy of a key.
        if text in self._clean:
            return text
        scrubbed = scrub(text, self._secrets())
        if scrubbed == text and len(text) <= _CLEAN_TEXT_MAX and len(self._clean) < _CLEAN_KEPT:
            self._clean.add(text)
        return scrubbed


class _SendProgress:
    """An httpcore `trace` hook noting whether the request line and headers went out whole.

    Only a failure seen between `send_request_headers.started` and `.complete` proves the
    server never had the whole request head. Without those events (a transport that does not
    trace) nothing is proven, and a failure stays "maybe sent".
    """

    __slots__ = ("_complete", "_started")

    def __init__(self) -> None:
        self._started = False
        self._complete = False

    def __call__(self, event: str, info: Mapping[str, Any]) -> None:
        if event.endswith("send_request_headers.started"):
            self._started = True
        elif event.endswith("send_request_headers.complete"):
            self._complete = True

    @property
    def headers_unsent(self) -> bool:
        """True if sending the request head began and did not finish."""
        return self._started and not self._complete


class _Budget:
    """The retries one call has spent, shared by its send loop and its read loop."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used = 0


def provider_error(
    provider: str, response: httpx.Response, *, secrets: Iterable[str] = ()
) -> ProviderError:
    """A `ProviderError` describing an error answer, with `secrets` scrubbed from its text."""
    error_type, message = _error_details(response, secrets)
    if response.is_redirect:
        message = "redirect not followed (credentials are never sent to another location)"
    return ProviderError(
        f"{provider} API error: {message}",
        status_code=response.status_code,
        error_type=error_type,
        request_id=response.headers.get("request-id") or response.headers.get("x-request-id"),
        method=response.request.method,
        url=_redacted(response.request.url),
    )


def _error_details(response: httpx.Response, secrets: Iterable[str]) -> tuple[str | None, str]:
    try:
        body: Any = orjson.loads(response.content)
    except (orjson.JSONDecodeError, httpx.ResponseNotRead):
        return None, response.reason_phrase or "error"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, response.reason_phrase or "error"
    error_type = error.get("type")
    message = error.get("message")
    keys = list(secrets)
    return (
        scrub(error_type[:200], keys) if isinstance(error_type, str) else None,
        # scrubbed before it is cut: a key cut in two would no longer match whole
        scrub(message[:2000], keys)[:500]
        if isinstance(message, str)
        else (response.reason_phrase or "error"),
    )


def _redacted(url: httpx.URL) -> str:
    return str(url.copy_with(query=None, fragment=None))


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
