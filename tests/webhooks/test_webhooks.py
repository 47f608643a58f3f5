"""Signing and verifying Standard Webhooks headers: format, secrets, tampering, the clock."""

from __future__ import annotations

import base64
import hashlib
import hmac

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from batchwork_prefect.errors import (
    BatchworkError,
    ConfigurationError,
    WebhookDeliveryError,
    WebhookVerificationError,
)
from batchwork_prefect.webhooks import (
    sign_webhook,
    verify_webhook,
    webhook_id_for,
)

SECRET = "batch-hook-secret-4f1c2a9e77"
RAW_KEY = b"\x00\x01binary key bytes\xff\xfe"
WHSEC = "whsec_" + base64.b64encode(RAW_KEY).decode()
WEBHOOK_ID = "msg_2b1a3c"
NOW = 1_750_000_000
BODY = b'{"batch_id":"msgbatch_01","status":"ended"}'

# The Standard Webhooks reference vector (svix-webhooks' own signing test).
REF_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
REF_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
REF_TIMESTAMP = 1614265330
REF_BODY = b'{"test": 2432232314}'
REF_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _signed(secret: str = SECRET, **changes: object) -> dict[str, str]:
    options: dict[str, object] = {"webhook_id": WEBHOOK_ID, "timestamp": NOW, "body": BODY}
    options.update(changes)
    return sign_webhook(secret, **options)  # type: ignore[arg-type]


def _rejected(
    headers: dict[str, str], body: bytes | str = BODY, secret: str = SECRET, **kw: float
) -> str:
    """Verify, expecting failure; return the message after checking it leaks nothing."""
    with pytest.raises(WebhookVerificationError) as caught:
        verify_webhook(headers, body, secret, now=kw.pop("now", NOW), **kw)
    message = str(caught.value)
    assert SECRET not in message
    assert WHSEC not in message
    assert WHSEC.removeprefix("whsec_") not in message
    for signature in headers.get("webhook-signature", "").split():
        value = signature.partition(",")[2]
        assert not value or value not in message
    return message


def test_sign_then_verify_round_trip() -> None:
    headers = _signed()
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == WEBHOOK_ID
    assert headers["webhook-timestamp"] == str(NOW)
    verify_webhook(headers, BODY, SECRET, now=NOW)


def test_known_answer_pins_the_format_and_the_signed_content() -> None:
    expected = base64.b64encode(
        hmac.new(
            SECRET.encode("utf-8"), f"{WEBHOOK_ID}.{NOW}.".encode() + BODY, hashlib.sha256
        ).digest()
    ).decode()
    assert _signed()["webhook-signature"] == f"v1,{expected}"


def test_standard_webhooks_reference_vector() -> None:
    headers = sign_webhook(REF_SECRET, webhook_id=REF_ID, timestamp=REF_TIMESTAMP, body=REF_BODY)
    assert headers["webhook-signature"] == REF_SIGNATURE
    verify_webhook(headers, REF_BODY, REF_SECRET, now=REF_TIMESTAMP)


def test_whsec_secret_uses_the_decoded_bytes_as_key() -> None:
    headers = _signed(WHSEC)
    expected = base64.b64encode(
        hmac.new(RAW_KEY, f"{WEBHOOK_ID}.{NOW}.".encode() + BODY, hashlib.sha256).digest()
    ).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    verify_webhook(headers, BODY, WHSEC, now=NOW)
    # The whsec_ string is not itself the key.
    _rejected(headers, secret=WHSEC.removeprefix("whsec_"))


def test_secretstr_is_accepted_on_both_sides() -> None:
    headers = sign_webhook(SecretStr(WHSEC), webhook_id=WEBHOOK_ID, timestamp=NOW, body=BODY)
    assert headers == _signed(WHSEC)
    verify_webhook(headers, BODY, SecretStr(WHSEC), now=NOW)


def test_str_body_is_verified_as_utf8() -> None:
    text = '{"note":"héllo ✓"}'
    headers = _signed(body=text.encode("utf-8"))
    verify_webhook(headers, text, SECRET, now=NOW)


def test_tampered_body_fails() -> None:
    assert "signature" in _rejected(_signed(), body=BODY.replace(b"ended", b"errored"))


def test_tampered_id_fails() -> None:
    headers = _signed() | {"webhook-id": "msg_other"}
    assert "signature" in _rejected(headers)


def test_tampered_timestamp_fails() -> None:
    headers = _signed() | {"webhook-timestamp": str(NOW + 1)}
    assert "signature" in _rejected(headers)


def test_wrong_secret_fails() -> None:
    assert "signature" in _rejected(_signed(), secret="not-the-secret")


def test_timestamp_older_than_tolerance_fails() -> None:
    assert "too old" in _rejected(_signed(), now=NOW + 301)


def test_timestamp_too_far_in_the_future_fails() -> None:
    assert "future" in _rejected(_signed(), now=NOW - 301)


@pytest.mark.parametrize("offset", [-300, -299, 0, 299, 300])
def test_timestamp_within_tolerance_passes(offset: int) -> None:
    verify_webhook(_signed(), BODY, SECRET, now=NOW + offset)


def test_custom_tolerance() -> None:
    verify_webhook(_signed(), BODY, SECRET, now=NOW + 3600, tolerance=3600)
    _rejected(_signed(), now=NOW + 11, tolerance=10)


def test_any_matching_signature_among_several_passes() -> None:
    good = _signed()["webhook-signature"]
    stale = _signed("old-rotated-secret")["webhook-signature"]
    for header in (f"{stale} {good}", f"{good} {stale}", f"v1a,abc  {good}"):
        verify_webhook(_signed() | {"webhook-signature": header}, BODY, SECRET, now=NOW)


def test_several_signatures_none_matching_fails() -> None:
    one = _signed("secret-one")["webhook-signature"]
    two = _signed("secret-two")["webhook-signature"]
    _rejected(_signed() | {"webhook-signature": f"{one} {two}"})


@pytest.mark.parametrize(
    "header",
    ["", "   ", "v1,", "nonsense", "v2,{sig}", "{sig}", "v1;{sig}", "v1,{sig}x", "v1,ünï"],
)
def test_malformed_or_foreign_signatures_fail(header: str) -> None:
    sig = _signed()["webhook-signature"].removeprefix("v1,")
    _rejected(_signed() | {"webhook-signature": header.format(sig=sig)})


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_fails_and_is_named(name: str) -> None:
    headers = _signed()
    del headers[name]
    assert name in _rejected(headers)


def test_all_headers_missing_names_all_three() -> None:
    message = _rejected({})
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        assert name in message


@pytest.mark.parametrize("stamp", ["abc", "1.5", "1e9", "-5", "+5", "", "1_000", "١٢٣"])
def test_non_integer_timestamp_fails(stamp: str) -> None:
    message = _rejected(_signed() | {"webhook-timestamp": stamp})
    assert ("integer" in message) or ("missing" in message)


def test_header_names_are_case_insensitive() -> None:
    mixed = {
        "Webhook-Id": WEBHOOK_ID,
        "WEBHOOK-TIMESTAMP": str(NOW),
        "webhook-Signature": _signed()["webhook-signature"],
    }
    verify_webhook(mixed, BODY, SECRET, now=NOW)
    verify_webhook(httpx.Headers(mixed), BODY, SECRET, now=NOW)


def test_errors_are_batchwork_errors() -> None:
    assert issubclass(WebhookVerificationError, BatchworkError)
    assert issubclass(WebhookDeliveryError, BatchworkError)


@pytest.mark.parametrize("bad", ["whsec_not base64!", "whsec_", ""])
def test_unusable_secret_is_a_configuration_error_without_the_secret(bad: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        sign_webhook(bad, webhook_id=WEBHOOK_ID, timestamp=NOW, body=BODY)
    if bad.removeprefix("whsec_"):
        assert bad not in str(caught.value)


@pytest.mark.parametrize("webhook_id", ["", "msg 1", "msg\n1", "msg_é"])
def test_sign_rejects_ids_unfit_for_a_header(webhook_id: str) -> None:
    with pytest.raises(ValueError):
        sign_webhook(SECRET, webhook_id=webhook_id, timestamp=NOW, body=BODY)


def test_webhook_id_for_is_stable_and_distinct() -> None:
    first = webhook_id_for("anthropic", "msgbatch_01")
    assert first == webhook_id_for("anthropic", "msgbatch_01")
    digest = hashlib.sha256(b"anthropic\x1fmsgbatch_01").hexdigest()
    assert first == "msg_" + digest[:32]
    assert first != webhook_id_for("anthropic", "msgbatch_02")
    assert first != webhook_id_for("anthropicmsgbatch_01")
    sign_webhook(SECRET, webhook_id=first, timestamp=NOW, body=BODY)


def test_webhook_id_for_rejects_ambiguous_parts() -> None:
    with pytest.raises(ValueError):
        webhook_id_for()
    with pytest.raises(ValueError):
        webhook_id_for("a\x1fb")


_IDS = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)


@given(
    body=st.binary(),
    webhook_id=_IDS,
    timestamp=st.integers(min_value=0, max_value=10**12),
    secret=st.text(min_size=1).filter(lambda s: not s.startswith("whsec_")),
)
def test_round_trip_property(body: bytes, webhook_id: str, timestamp: int, secret: str) -> None:
    headers = sign_webhook(secret, webhook_id=webhook_id, timestamp=timestamp, body=body)
    verify_webhook(headers, body, secret, now=timestamp)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, body + b"x", secret, now=timestamp)


@given(key=st.binary(min_size=1), body=st.binary(), webhook_id=_IDS)
def test_round_trip_property_with_whsec_secrets(key: bytes, body: bytes, webhook_id: str) -> None:
    secret = "whsec_" + base64.b64encode(key).decode()
    headers = sign_webhook(secret, webhook_id=webhook_id, timestamp=NOW, body=body)
    verify_webhook(headers, body, secret, now=NOW)
