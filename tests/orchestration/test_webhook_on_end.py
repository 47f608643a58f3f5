"""The optional signed webhook that `run_batch` sends when the batch ends."""

from __future__ import annotations

import pytest
from prefect.blocks.system import Secret

from batchwork_prefect import (
    AnthropicCredentials,
    OpenAICredentials,
    run_batch,
    verify_webhook,
)
from batchwork_prefect.emulator import Emulator
from batchwork_prefect.errors import WebhookVerificationError
from tests.support import API_KEY
from tests.support.webhooks import Receiver

SECRET = "whsec_dGhpcy1pcy10aGUtd2ViaG9vay1zaWduaW5nLWtleQ=="


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_batch_end_posts_a_signed_webhook(
    provider: str, emulator: Emulator, receiver: Receiver
) -> None:
    Secret(value=SECRET).save("batchwork-webhook-secret", overwrite=True)
    receiver.answer(503, 200)
    credentials = (
        OpenAICredentials(api_key=API_KEY, base_url=emulator.openai_base_url)
        if provider == "openai"
        else AnthropicCredentials(api_key=API_KEY, base_url=emulator.base_url)
    )
    results = run_batch(
        model="openai/gpt-4o-mini" if provider == "openai" else "anthropic/claude-x",
        requests=[{"custom_id": "fr", "prompt": "Capital of France? One word."}],
        credentials=credentials,
        idempotency_key=f"webhook-test-{provider}",
        poll_interval=0.05,
        webhook_url=receiver.url,
        webhook_secret_block="batchwork-webhook-secret",
    )
    assert len(receiver.requests) == 2
    (first_headers, _, _), (headers, body, _) = receiver.requests
    assert first_headers["webhook-id"] == headers["webhook-id"]
    verify_webhook(headers, body, SECRET)
    assert b'"batch_ids":["%s"]' % results.batch_ids[0].encode() in body
    assert b'"type":"batch.ended"' in body and b'"succeeded":1' in body
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, body.replace(b"succeeded", b"errored"), SECRET)
    for recorded_headers, recorded_body, _ in receiver.requests:
        assert SECRET not in str(recorded_headers) and SECRET.encode() not in recorded_body
