"""The HTTP layer every provider shares: one API origin, one retry budget per call."""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from enum import Enum
from typing import Any

import httpx

from batchwork_prefect._http.auth import check_headers
from batchwork_prefect._http.body import Body
from batchwork_prefect._http.errors import _describe, _redacted, provider_error
from batchwork_prefect._http.origins import check_base_url, origin
from batchwork_prefect._http.retry import retry_delay, should_retry_status
from batchwork_prefect._http.secrets import scrub
from batchwork_prefect.errors import (
    ConfigurationError,
    MaybeSentError,
    TransportError,
    UnsafeURLError,
)

DEFAULT_TIMEOUT = httpx.Timeout(600.0, connect=10.0)
DEFAULT_MAX_RETRIES = 4


class Retry(Enum):
    """How a request may be retried."""

    IDEMPOTENT = "idempotent"
    """Retry error statuses and every connection failure (GET, list, cancel, results)."""

    UNLESS_SENT = "unless_sent"
    """Retry failures to connect and answers proving nothing was done (408, 429, 529); never
    a failure after the body left, nor another error answer (a create)."""


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
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            follow_redirects=False,
            verify=ssl_context(),
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
        headers: Mapping[str, str] | None = None,
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
                    headers=headers,
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
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[httpx.Response]:
        """Send a request and yield the 2xx answer with its body not yet read; `budget`
        counts the retries spent (a caller that retries too passes its own); `headers` are
        the protocol headers of this one request (lowercase names)."""
        if origin(url) != self._origin:
            raise UnsafeURLError(f"refusing to send credentials off the API origin: {url}")
        try:
            request = self._client.build_request(
                method,
                url,
                content=content,
                params=params,
                headers={**self._request_headers(content, content_type), **(headers or {})},
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


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CAs, SSL_CERT_FILE / SSL_CERT_DIR), made once
    per process: making one loads the CA bundle, ~20 ms, which every task paid per client."""
    return httpx.create_ssl_context()


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
