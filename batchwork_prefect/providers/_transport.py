"""The HTTP layer every provider shares: one API origin, retries, and error mapping."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from typing import Any

import httpx
import orjson

from batchwork_prefect.errors import (
    ConfigurationError,
    ProviderError,
    TransportError,
    UnsafeURLError,
)
from batchwork_prefect.providers._body import Body
from batchwork_prefect.providers._retry import retry_delay, should_retry_status

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


class MaybeSentError(TransportError):
    """The request may have reached the server, but no answer came back."""


def check_base_url(base_url: str) -> httpx.URL:
    """The parsed base URL, if it is https (or http to a loopback host) and carries no secrets.

    Raises `ConfigurationError` otherwise.
    """
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ConfigurationError(f"base_url {base_url!r} is not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(f"base_url {base_url!r} must be an absolute http(s) URL")
    if url.userinfo or url.query or url.fragment:
        raise ConfigurationError("base_url must not carry credentials, a query or a fragment")
    if url.scheme == "http" and not is_loopback(url.host):
        raise ConfigurationError(
            f"base_url {base_url!r} must use https; plain http is allowed only for loopback hosts"
        )
    return url


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


class Transport:
    """An httpx client bound to one API origin.

    It retries what is safe to retry, maps error answers to `ProviderError`, never follows
    redirects, and sends the auth headers only to its own origin.
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
    ) -> None:
        self.provider = provider
        self.base_url = check_base_url(base_url)
        self._origin = origin(self.base_url)
        self._auth_headers = auth_headers
        self._headers = dict(headers or {})
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
    ) -> httpx.Response:
        """Send a request and read the whole answer; error statuses raise `ProviderError`."""
        with self.stream(method, url, retry=retry, content=content, params=params) as response:
            response.read()
            return response

    @contextmanager
    def stream(
        self,
        method: str,
        url: httpx.URL,
        *,
        retry: Retry,
        content: bytes | Body | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Iterator[httpx.Response]:
        """Send a request and yield the 2xx answer with its body not yet read."""
        if origin(url) != self._origin:
            raise UnsafeURLError(f"refusing to send credentials off the API origin: {url}")
        request = self._client.build_request(
            method, url, content=content, params=params, headers=self._request_headers(content)
        )
        response = self._send_with_retries(request, retry)
        try:
            yield response
        finally:
            response.close()

    def close(self) -> None:
        """Close the connection pool, if this transport made it."""
        if self._owns_client:
            self._client.close()

    def _request_headers(self, content: bytes | Body | None) -> dict[str, str]:
        headers = {"accept": "application/json", **self._headers, **self._auth_headers()}
        if content is not None:
            headers["content-type"] = "application/json"
        if isinstance(content, Body):
            headers["content-length"] = str(len(content))  # streamed, not chunked
        return headers

    def _send_with_retries(self, request: httpx.Request, retry: Retry) -> httpx.Response:
        where = {"method": request.method, "url": _redacted(request.url)}
        retries = 0
        while True:
            try:
                response = self._client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if retries >= self.max_retries:
                    raise TransportError(f"could not connect: {_describe(exc)}", **where) from None
                self._sleep(retry_delay(retries))
                retries += 1
                continue
            except httpx.TransportError as exc:
                if retry is Retry.UNLESS_SENT:
                    raise MaybeSentError(f"no answer: {_describe(exc)}", **where) from None
                if retries >= self.max_retries:
                    raise TransportError(f"connection failed: {_describe(exc)}", **where) from None
                self._sleep(retry_delay(retries))
                retries += 1
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
                retries += 1
                continue
            try:
                response.read()
            except httpx.TransportError:
                pass
            finally:
                response.close()
            raise provider_error(self.provider, response)


def provider_error(provider: str, response: httpx.Response) -> ProviderError:
    """A `ProviderError` describing an error answer."""
    error_type, message = _error_details(response)
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


def _error_details(response: httpx.Response) -> tuple[str | None, str]:
    try:
        body: Any = orjson.loads(response.content)
    except (orjson.JSONDecodeError, httpx.ResponseNotRead):
        return None, response.reason_phrase or "error"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, response.reason_phrase or "error"
    error_type = error.get("type")
    message = error.get("message")
    return (
        error_type if isinstance(error_type, str) else None,
        message[:500] if isinstance(message, str) else (response.reason_phrase or "error"),
    )


def _redacted(url: httpx.URL) -> str:
    return str(url.copy_with(query=None, fragment=None))


def _describe(exc: Exception) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
