"""Delivering signed webhooks to a real receiver over loopback HTTP."""

from __future__ import annotations

import logging

import httpx
import orjson
import pytest
from pydantic import SecretStr

from batchwork_prefect.errors import WebhookDeliveryError
from batchwork_prefect.webhooks import (
    deliver_webhook,
    verify_webhook,
    webhook_id_for,
)
from harness.ports import free_port
from tests.support.webhooks import Receiver

SECRET = "whsec_dGhpcy1pcy10aGUtd2ViaG9vay1zaWduaW5nLWtleQ=="
PAYLOAD = {"batch_id": "msgbatch_01", "status": "ended", "counts": {"succeeded": 3}}
WEBHOOK_ID = webhook_id_for("anthropic", "msgbatch_01")


@pytest.fixture
def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}/hooks/batch"


def _must_not_sleep(seconds: float) -> None:
    raise AssertionError(f"unexpected retry sleep of {seconds}s")


def _assert_no_secret(text: str, receiver: Receiver | None = None) -> None:
    assert SECRET not in text
    assert SECRET.removeprefix("whsec_") not in text
    assert "v1," not in text
    for headers, _, _ in receiver.requests if receiver else []:
        assert headers["webhook-signature"].removeprefix("v1,") not in text


def test_delivery_succeeds_and_the_request_verifies(receiver: Receiver) -> None:
    sleeps: list[float] = []
    status = deliver_webhook(
        receiver.url, PAYLOAD, SECRET, webhook_id=WEBHOOK_ID, sleep=sleeps.append
    )
    assert status == 200
    assert sleeps == []
    [(headers, body, path)] = receiver.requests
    assert path == "/hooks/batch"
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == WEBHOOK_ID
    assert orjson.loads(body) == PAYLOAD
    verify_webhook(headers, body, SECRET)
    verify_webhook(headers, body, SecretStr(SECRET))


def test_any_2xx_is_success(receiver: Receiver) -> None:
    receiver.answer(204)
    assert deliver_webhook(receiver.url, PAYLOAD, SECRET, webhook_id=WEBHOOK_ID) == 204


def test_503_then_200_is_retried_with_the_same_id(receiver: Receiver) -> None:
    receiver.answer(503, 200)
    sleeps: list[float] = []
    status = deliver_webhook(
        receiver.url, PAYLOAD, SECRET, webhook_id=WEBHOOK_ID, sleep=sleeps.append
    )
    assert status == 200
    assert len(receiver.requests) == 2
    assert len(sleeps) == 1
    ids = {headers["webhook-id"] for headers, _, _ in receiver.requests}
    assert ids == {WEBHOOK_ID}
    for headers, body, _ in receiver.requests:
        verify_webhook(headers, body, SECRET)


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 504])
def test_transient_statuses_are_retried(receiver: Receiver, status: int) -> None:
    receiver.answer(status, status, 200)
    sleeps: list[float] = []
    assert deliver_webhook(receiver.url, PAYLOAD, SECRET, webhook_id="msg_x", sleep=sleeps.append)
    assert len(receiver.requests) == 3
    assert len(sleeps) == 2


def test_retry_after_is_honoured(receiver: Receiver) -> None:
    receiver.answer(429, 200, retry_after="7")
    sleeps: list[float] = []
    deliver_webhook(receiver.url, PAYLOAD, SECRET, webhook_id=WEBHOOK_ID, sleep=sleeps.append)
    assert sleeps == [7.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_other_4xx_is_not_retried(receiver: Receiver, status: int) -> None:
    receiver.answer(status)
    sleeps: list[float] = []
    with pytest.raises(WebhookDeliveryError) as caught:
        deliver_webhook(receiver.url, PAYLOAD, SECRET, webhook_id=WEBHOOK_ID, sleep=sleeps.append)
    assert len(receiver.requests) == 1
    assert sleeps == []
    error = caught.value
    assert error.status_code == status
    assert error.attempts == 1
    assert error.webhook_id == WEBHOOK_ID
    assert str(status) in str(error)
    _assert_no_secret(str(error), receiver)
    _assert_no_secret(repr(error), receiver)


def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.answer(307, location="http://127.0.0.1:1/elsewhere")
    with pytest.raises(WebhookDeliveryError, match="redirect"):
        deliver_webhook(receiver.url, PAYLOAD, SECRET, webhook_id=WEBHOOK_ID, sleep=_must_not_sleep)
    assert len(receiver.requests) == 1


def test_persistent_5xx_exhausts_attempts(receiver: Receiver) -> None:
    receiver.answer(*[503] * 10)
    sleeps: list[float] = []
    with pytest.raises(WebhookDeliveryError) as caught:
        deliver_webhook(
            receiver.url,
            PAYLOAD,
            SECRET,
            webhook_id=WEBHOOK_ID,
            max_attempts=3,
            sleep=sleeps.append,
        )
    assert len(receiver.requests) == 3
    assert len(sleeps) == 2
    assert caught.value.attempts == 3
    assert caught.value.status_code == 503
    _assert_no_secret(str(caught.value), receiver)


def test_connection_refused_exhausts_attempts(
    closed_port_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    sleeps: list[float] = []
    with (
        caplog.at_level(logging.DEBUG, logger="batchwork_prefect.webhooks"),
        pytest.raises(WebhookDeliveryError) as caught,
    ):
        deliver_webhook(
            closed_port_url,
            PAYLOAD,
            SecretStr(SECRET),
            webhook_id=WEBHOOK_ID,
            max_attempts=4,
            sleep=sleeps.append,
        )
    assert len(sleeps) == 3
    error = caught.value
    assert error.attempts == 4
    assert error.status_code is None
    assert isinstance(error.__cause__, httpx.TransportError)
    _assert_no_secret(str(error))
    _assert_no_secret(caplog.text)


def test_supplied_client_is_used_and_left_open(receiver: Receiver) -> None:
    receiver.answer(503, 200)
    sleeps: list[float] = []
    with httpx.Client(follow_redirects=True) as client:
        status = deliver_webhook(
            receiver.url,
            PAYLOAD,
            SECRET,
            webhook_id=WEBHOOK_ID,
            client=client,
            sleep=sleeps.append,
        )
        assert status == 200
        assert not client.is_closed
    assert len(receiver.requests) == 2


def test_supplied_client_still_never_follows_redirects(receiver: Receiver) -> None:
    receiver.answer(302, location=receiver.url)
    with httpx.Client(follow_redirects=True) as client, pytest.raises(WebhookDeliveryError):
        deliver_webhook(
            receiver.url,
            PAYLOAD,
            SECRET,
            webhook_id=WEBHOOK_ID,
            client=client,
            sleep=_must_not_sleep,
        )
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "file:///etc/passwd", "example.com/hook", "http:///x"]
)
def test_only_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(ValueError):
        deliver_webhook(url, PAYLOAD, SECRET, webhook_id=WEBHOOK_ID, sleep=_must_not_sleep)


def test_error_url_omits_query_and_credentials(receiver: Receiver) -> None:
    receiver.answer(400)
    url = receiver.url.replace("http://", "http://user:pw@") + "?token=abc123"
    with pytest.raises(WebhookDeliveryError) as caught:
        deliver_webhook(url, PAYLOAD, SECRET, webhook_id=WEBHOOK_ID, sleep=_must_not_sleep)
    assert "abc123" not in str(caught.value)
    assert "pw@" not in str(caught.value)
    assert "/hooks/batch" in str(caught.value)
