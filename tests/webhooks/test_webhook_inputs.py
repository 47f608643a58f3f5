"""verify_webhook with headers, bodies and secrets as web frameworks and callers hand them."""

from __future__ import annotations

from typing import Any

import flask
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from batchwork_prefect import BatchworkError, ConfigurationError, WebhookVerificationError
from batchwork_prefect.webhooks import sign_webhook, verify_webhook

SECRET = "batch-hook-secret-4f1c2a9e77"
NOW = 1_750_000_000
BODY = b'{"batch_id":"msgbatch_01","status":"ended"}'
HEADERS = sign_webhook(SECRET, webhook_id="msg_2b1a3c", timestamp=NOW, body=BODY)


def _verdict(headers: Any, body: Any = BODY, secret: Any = SECRET) -> str:
    try:
        verify_webhook(headers, body, secret, now=NOW)
    except WebhookVerificationError as exc:
        return f"rejected: {exc}"
    return "verified"


def test_bytes_names_and_values_and_lists_of_pairs_verify() -> None:
    as_bytes = {name.encode(): value.encode() for name, value in HEADERS.items()}
    assert _verdict(as_bytes) == "verified"
    assert _verdict(list(as_bytes.items())) == "verified"  # an ASGI scope's headers
    assert _verdict([(name.title(), value) for name, value in HEADERS.items()]) == "verified"
    assert _verdict({**HEADERS, "webhook-id": ["msg_2b1a3c"]}) == "verified"
    assert _verdict(HEADERS, bytearray(BODY)) == "verified"
    assert _verdict(HEADERS | {"other": None}) == "verified"


def test_pairs_still_fail_on_a_bad_signature() -> None:
    tampered = [(name.encode(), value.encode()) for name, value in HEADERS.items()]
    assert _verdict(tampered, BODY + b" ") == "rejected: no matching webhook signature"


def test_a_signed_header_sent_twice_is_rejected() -> None:
    twice = [*HEADERS.items(), ("Webhook-Signature", HEADERS["webhook-signature"])]
    assert _verdict(twice) == (
        "rejected: webhook header webhook-signature appears 2 times; a webhook carries it once"
    )


def test_a_str_body_with_a_lone_surrogate_is_rejected() -> None:
    assert _verdict(HEADERS, "\udc80") == (
        "rejected: the body is a str that is not valid UTF-8 (it holds a lone surrogate); "
        "pass the raw request body as bytes"
    )


def test_a_webhook_id_unfit_for_a_header_is_rejected() -> None:
    assert _verdict(HEADERS | {"webhook-id": "msg_\udc80"}) == (
        "rejected: webhook-id is not printable ASCII without whitespace"
    )


@pytest.mark.parametrize(
    ("headers", "body", "secret", "message"),
    [
        (HEADERS, BODY, None, "webhook secret must be a str or SecretStr, not NoneType"),
        (HEADERS, BODY, "\ud800", "webhook secret is not valid text"),
        (HEADERS, None, SECRET, "the webhook body must be the raw request body as bytes"),
        (None, BODY, SECRET, "webhook headers must be a mapping (request.headers) or a list"),
        ("webhook-id", BODY, SECRET, "webhook headers must be a mapping"),
        ([("webhook-id",)], BODY, SECRET, "webhook headers must be a mapping"),
        ({1: "x"}, BODY, SECRET, "a webhook header name must be str or bytes, not int"),
        (HEADERS | {"webhook-id": 7}, BODY, SECRET, "a webhook header value must be str or"),
    ],
)
def test_arguments_of_the_wrong_kind_are_configuration_errors(
    headers: Any, body: Any, secret: Any, message: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        verify_webhook(headers, body, secret, now=NOW)
    assert str(raised.value).startswith(message)
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(("tolerance", "now"), [(float("nan"), NOW), (-1.0, NOW), (300, "nan")])
def test_a_nan_or_negative_clock_setting_is_refused(tolerance: float, now: Any) -> None:
    # NaN compares false with everything: it would let any timestamp through.
    with pytest.raises(ConfigurationError, match="tolerance must be seconds >= 0"):
        verify_webhook(HEADERS, BODY, SECRET, tolerance=tolerance, now=float(now))


def test_starlette_request_headers_and_asgi_scope_headers_verify() -> None:
    async def receive(request: Request) -> PlainTextResponse:
        body = await request.body()
        return PlainTextResponse(
            f"{_verdict(request.headers, body)} {_verdict(request.scope['headers'], body)}"
        )

    app = Starlette(routes=[Route("/hook", receive, methods=["POST"])])
    with TestClient(app) as client:
        good = client.post("/hook", content=BODY, headers=HEADERS)
        bad = client.post("/hook", content=BODY + b"x", headers=HEADERS)
    assert good.text == "verified verified"
    assert bad.text == " ".join(["rejected: no matching webhook signature"] * 2)


def test_flask_request_headers_verify() -> None:
    app = flask.Flask(__name__)

    @app.post("/hook")
    def receive() -> str:
        request = flask.request
        return (
            f"{_verdict(request.headers, request.get_data())} "
            f"{_verdict(request.headers, request.get_data(as_text=True))}"
        )

    client = app.test_client()
    assert client.post("/hook", data=BODY, headers=HEADERS).text == "verified verified"
    assert client.post("/hook", data=b"{}", headers=HEADERS).text == " ".join(
        ["rejected: no matching webhook signature"] * 2
    )


_TEXT_OR_BYTES = st.text() | st.binary()
_NAMES = st.sampled_from(["webhook-id", "Webhook-Timestamp", "WEBHOOK-SIGNATURE", b"webhook-id"])
_ANYTHING = st.none() | st.integers() | st.floats() | _TEXT_OR_BYTES
_VALUES = _ANYTHING | st.lists(_ANYTHING, max_size=3) | st.just(HEADERS["webhook-signature"])
_PAIR = st.tuples(_NAMES | _ANYTHING, _VALUES)
_HEADER_SHAPES = (
    _ANYTHING
    | st.lists(_PAIR | _ANYTHING | st.lists(_ANYTHING, max_size=3), max_size=5)
    | st.dictionaries(_NAMES | _TEXT_OR_BYTES, _VALUES, max_size=5)
    | st.builds(lambda extra: {**HEADERS, **extra}, st.dictionaries(_NAMES, _VALUES, max_size=2))
)
_SECRETS = st.none() | st.integers() | _TEXT_OR_BYTES | st.just(SECRET)
_BODIES = st.none() | st.integers() | _TEXT_OR_BYTES | st.just(BODY)


@given(headers=_HEADER_SHAPES, body=_BODIES, secret=_SECRETS)
def test_any_headers_body_and_secret_give_a_batchwork_error_or_pass(
    headers: Any, body: Any, secret: Any
) -> None:
    try:
        verify_webhook(headers, body, secret, now=NOW)
    except BatchworkError as exc:
        assert isinstance(exc, WebhookVerificationError | ConfigurationError)
        assert SECRET not in str(exc)
    else:
        assert body in (BODY, BODY.decode()) and secret == SECRET  # only these were signed
