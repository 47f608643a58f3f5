"""Signed "batch finished" webhooks, following the Standard Webhooks specification.

Every delivery carries three headers (https://www.standardwebhooks.com):

* ``webhook-id``: the message id. It is the same on every attempt to deliver one message,
  so receivers get at-least-once delivery and must dedupe on it.
* ``webhook-timestamp``: the attempt's time in integer Unix seconds (re-signed per attempt).
* ``webhook-signature``: ``v1,`` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
  It may hold several space-separated signatures (``v1,xxx v1,yyy``, e.g. while rotating a
  secret); one matching ``v1`` signature is enough.

Secrets are given either in the spec's ``whsec_<base64>`` form, whose key is the
base64-decoded part, or as any other string, whose key is its UTF-8 bytes. Both sides must
use the same form.

A receiver verifies the raw request body, before parsing it, and then dedupes::

    verify_webhook(request.headers, raw_body, secret)   # raises WebhookVerificationError
    if already_seen(request.headers["webhook-id"]): ...

The headers may be any mapping (Starlette's or Flask's ``request.headers``) or a list of
(name, value) pairs (an ASGI scope's ``headers``), names and values str or bytes.

Neither the secret nor a signature ever appears in an exception message or a log line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx
import orjson
from pydantic import SecretStr

from batchwork_prefect._http.retry import retry_delay, should_retry_status
from batchwork_prefect._http.transport import ssl_context
from batchwork_prefect.errors import (
    ConfigurationError,
    WebhookDeliveryError,
    WebhookVerificationError,
)

__all__ = [
    "deliver_webhook",
    "sign_webhook",
    "verify_webhook",
    "webhook_id_for",
]

_log = logging.getLogger(__name__)

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
_SIGNED_HEADERS = (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)

_SECRET_PREFIX = "whsec_"
_SIGNATURE_VERSION = "v1"
_TIMESTAMP_RE = re.compile(r"[0-9]{1,15}")
_ID_RE = re.compile(r"[\x21-\x7e]+")
_PART_SEPARATOR = "\x1f"


def sign_webhook(
    secret: str | SecretStr, *, webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`, signed with `secret` at `timestamp`."""
    _check_id(webhook_id)
    if timestamp < 0:
        raise ConfigurationError("timestamp must be non-negative Unix seconds")
    return _signed_headers(_key(secret), webhook_id, int(timestamp), body)


WebhookHeaders = (
    Mapping[str, str | bytes]
    | Mapping[bytes, str | bytes]
    | Iterable[tuple[str | bytes, str | bytes]]
)
"""What `verify_webhook` takes as headers: a mapping or (name, value) pairs, str or bytes."""


def verify_webhook(
    headers: WebhookHeaders,
    body: bytes | str,
    secret: str | SecretStr,
    *,
    tolerance: float = 300.0,
    now: float | None = None,
) -> None:
    """Check a received webhook's headers and raw body; raise WebhookVerificationError if bad.

    Header names are matched case-insensitively; bytes names and values are read as HTTP's
    Latin-1, and a signed header sent twice fails. The timestamp must be within `tolerance`
    seconds of `now` (default: the current time) either way, and at least one ``v1``
    signature must match. A str body is taken as UTF-8. Arguments of the wrong kind (no
    secret, headers that are neither a mapping nor pairs, a body that is not bytes or str)
    raise ConfigurationError.
    """
    key = _key(secret)
    raw = _raw_body(body)
    if math.isnan(tolerance) or tolerance < 0 or (now is not None and not math.isfinite(now)):
        raise ConfigurationError("tolerance must be seconds >= 0 and now finite Unix seconds")
    values = _signed_values(headers)
    webhook_id, stamp, signatures = values
    if not webhook_id or not stamp or not signatures:
        missing = ", ".join(
            name for name, value in zip(_SIGNED_HEADERS, values, strict=True) if not value
        )
        raise WebhookVerificationError(f"missing webhook header(s): {missing}")
    if not _ID_RE.fullmatch(webhook_id):
        raise WebhookVerificationError("webhook-id is not printable ASCII without whitespace")
    _check_timestamp(stamp, tolerance=tolerance, now=time.time() if now is None else now)
    expected = _signature(key, webhook_id, stamp, raw).encode("ascii")
    if not any(hmac.compare_digest(expected, given) for given in _v1_signatures(signatures)):
        raise WebhookVerificationError("no matching webhook signature")


def deliver_webhook(
    url: str,
    payload: Mapping[str, Any],
    secret: str | SecretStr,
    *,
    webhook_id: str,
    client: httpx.Client | None = None,
    max_attempts: int = 5,
    sleep: Callable[[float], None] = time.sleep,
    timeout: float = 10.0,
) -> int:
    """POST `payload` as signed JSON to `url`, retrying transient failures; return the 2xx status.

    Every attempt carries the same `webhook_id` and a fresh timestamp and signature.
    Connection errors and 408, 409, 429 and 5xx answers are retried with jittered
    exponential backoff (honouring ``retry-after``) up to `max_attempts` attempts in all;
    any other answer, including a redirect (never followed), raises WebhookDeliveryError
    at once, as does running out of attempts. Only http(s) URLs are accepted (ValueError).
    """
    target = _checked_url(url)
    _check_id(webhook_id)
    if max_attempts < 1:
        raise ConfigurationError("max_attempts must be at least 1")
    shown = _display_url(target)
    body = orjson.dumps(dict(payload))
    key = _key(secret)
    owned = client is None
    http = (
        httpx.Client(timeout=timeout, follow_redirects=False, verify=ssl_context())
        if client is None
        else client
    )
    try:
        for attempt in range(1, max_attempts + 1):
            outcome = _attempt(http, target, body, key, webhook_id, timeout)
            if isinstance(outcome, httpx.Response):
                status, retry_headers, cause = outcome.status_code, outcome.headers, None
                if 200 <= status < 300:
                    return status
                if not should_retry_status(status, {}):  # the transport's rule
                    hint = " (redirects are not followed)" if 300 <= status < 400 else ""
                    raise WebhookDeliveryError(
                        f"receiver answered HTTP {status}{hint}; not retried",
                        webhook_id=webhook_id,
                        url=shown,
                        attempts=attempt,
                        status_code=status,
                    )
                reason = f"HTTP {status}"
            else:
                status, retry_headers, cause = None, None, outcome
                reason = type(outcome).__name__
            if attempt == max_attempts:
                raise WebhookDeliveryError(
                    f"webhook not delivered; last failure: {reason}",
                    webhook_id=webhook_id,
                    url=shown,
                    attempts=attempt,
                    status_code=status,
                ) from cause
            delay = retry_delay(attempt - 1, retry_headers)
            _log.warning(
                "webhook %s to %s failed (%s) on attempt %d of %d; retrying in %.2fs",
                webhook_id,
                shown,
                reason,
                attempt,
                max_attempts,
                delay,
            )
            sleep(delay)
    finally:
        if owned:
            http.close()
    raise AssertionError("unreachable")  # pragma: no cover


def webhook_id_for(*parts: str) -> str:
    """A stable webhook id for `parts` (e.g. provider and batch id): ``msg_`` + 32 hex chars.

    The same parts always give the same id, so retries and reruns for one batch share it.
    """
    if not parts:
        raise ConfigurationError("webhook_id_for needs at least one part")
    if any(_PART_SEPARATOR in part for part in parts):
        raise ConfigurationError("webhook id parts must not contain the \\x1f separator")
    digest = hashlib.sha256(_PART_SEPARATOR.join(parts).encode("utf-8")).hexdigest()
    return f"msg_{digest[:32]}"


def _key(secret: str | SecretStr) -> bytes:
    """The HMAC key: base64-decoded after a ``whsec_`` prefix, else the UTF-8 bytes."""
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    if not isinstance(value, str):
        raise ConfigurationError(
            f"webhook secret must be a str or SecretStr, not {type(value).__name__}; pass the "
            "secret the sender signs with (e.g. whsec_...)"
        )
    if value.startswith(_SECRET_PREFIX):
        try:
            key = base64.b64decode(value[len(_SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError(
                "webhook secret starts with 'whsec_' but the rest is not valid base64"
            ) from None
    else:
        try:
            key = value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigurationError(
                "webhook secret is not valid text (it holds a lone surrogate); pass it as "
                "read from its store, unaltered"
            ) from None
    if not key:
        raise ConfigurationError("webhook secret is empty")
    return key


def _signature(key: bytes, webhook_id: str, stamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))."""
    content = f"{webhook_id}.{stamp}.".encode() + body
    return base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode("ascii")


def _raw_body(body: bytes | str) -> bytes:
    """The body's bytes: a str as UTF-8; bytes-like objects as they are."""
    if isinstance(body, str):
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:
            raise WebhookVerificationError(
                "the body is a str that is not valid UTF-8 (it holds a lone surrogate); pass "
                "the raw request body as bytes"
            ) from None
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise ConfigurationError(
        f"the webhook body must be the raw request body as bytes (or str), not "
        f"{type(body).__name__}"
    )


def _signed_values(headers: object) -> tuple[str | None, str | None, str | None]:
    """The stripped values of the three signed headers (None if absent), names matched
    case-insensitively; a signed header given twice is refused."""
    found: dict[str, list[str]] = {name: [] for name in _SIGNED_HEADERS}
    for name, value in _header_pairs(headers):
        values = found.get(_text(name, "name").strip().lower())
        if values is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is not None:  # a mapping's None: the header is absent
                values.append(_text(item, "value").strip())
    for name, values in found.items():
        if len(values) > 1:
            raise WebhookVerificationError(
                f"webhook header {name} appears {len(values)} times; a webhook carries it once"
            )
    first = [values[0] if values else None for values in found.values()]
    return first[0], first[1], first[2]


def _header_pairs(headers: object) -> Iterable[tuple[object, object]]:
    """(name, value) pairs of a mapping (its items) or of a list of pairs."""
    shape = (
        "webhook headers must be a mapping (request.headers) or a list of (name, value) "
        f"pairs, not {type(headers).__name__}"
    )
    items = getattr(headers, "items", None)
    source = items() if callable(items) else headers
    if isinstance(source, str | bytes) or not isinstance(source, Iterable):
        raise ConfigurationError(shape)
    for pair in source:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ConfigurationError(shape)
        yield pair[0], pair[1]


def _text(value: object, what: str) -> str:
    """A header name or value as text; bytes as HTTP's Latin-1."""
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    raise ConfigurationError(
        f"a webhook header {what} must be str or bytes, not {type(value).__name__}; pass "
        "the request's headers as the web framework gives them"
    )


def _check_timestamp(stamp: str, *, tolerance: float, now: float) -> None:
    """Raise unless `stamp` is integer Unix seconds within `tolerance` of `now`."""
    if not _TIMESTAMP_RE.fullmatch(stamp):
        raise WebhookVerificationError("webhook-timestamp is not an integer number of seconds")
    age = now - int(stamp)
    if age > tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is too old ({age:.0f}s ago; tolerance {tolerance:g}s)"
        )
    if -age > tolerance:
        raise WebhookVerificationError(
            f"webhook-timestamp is too far in the future ({-age:.0f}s ahead; "
            f"tolerance {tolerance:g}s)"
        )


def _v1_signatures(header: str) -> list[bytes]:
    """The ``v1`` signatures in a space-separated signature header, as bytes."""
    found: list[bytes] = []
    for entry in header.split():
        version, sep, value = entry.partition(",")
        if sep and version == _SIGNATURE_VERSION and value:
            found.append(value.encode("utf-8", errors="replace"))
    return found


def _checked_url(url: str) -> httpx.URL:
    """`url` parsed; ValueError unless it is an absolute http(s) URL with a host."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise ConfigurationError("webhook URL is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigurationError(f"webhook URL must be http(s) with a host, not {parsed.scheme!r}")
    return parsed


def _display_url(url: httpx.URL) -> str:
    """`url` without credentials, query or fragment, fit for messages and logs."""
    port = f":{url.port}" if url.port is not None else ""
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}{port}{url.path}"


def _attempt(
    client: httpx.Client,
    url: httpx.URL,
    body: bytes,
    key: bytes,
    webhook_id: str,
    timeout: float,
) -> httpx.Response | httpx.TransportError:
    """One POST, freshly signed; the response (body unread) or the transport error it raised."""
    headers = _signed_headers(key, webhook_id, int(time.time()), body)
    headers["content-type"] = "application/json"
    try:
        with client.stream(
            "POST", url, content=body, headers=headers, timeout=timeout, follow_redirects=False
        ) as response:
            return response
    except httpx.TransportError as exc:
        return exc


def _check_id(webhook_id: str) -> None:
    """ValueError unless `webhook_id` is non-empty printable ASCII without whitespace."""
    if not _ID_RE.fullmatch(webhook_id):
        raise ConfigurationError("webhook_id must be non-empty printable ASCII without whitespace")


def _signed_headers(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three signature headers for `body` at `timestamp`."""
    stamp = str(timestamp)
    return {
        ID_HEADER: webhook_id,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: f"{_SIGNATURE_VERSION},{_signature(key, webhook_id, stamp, body)}",
    }
