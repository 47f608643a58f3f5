"""Provider text is scrubbed of the API key: whole, masked as OpenAI echoes it, or in part."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from batchwork_prefect._http.secrets import REDACTED, scrub

KEY = "sk-proj-Abc123def456GHI789jkl012MNO345pqr678STU901vwx234"


def _openai_mask(key: str) -> str:
    """OpenAI's 401 form: the first 8 and last 4 characters around asterisks."""
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


@pytest.mark.parametrize(
    "text",
    [
        f"Incorrect API key provided: {KEY}.",
        f"Incorrect API key provided: {_openai_mask(KEY)}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        f"key {KEY[:10]}...{KEY[-4:]} refused",
        f"key {KEY[:10]}\u2026{KEY[-4:]} refused",
        f"the key ends in {KEY[-12:]}",
        f"'{KEY[5:25]}'",
    ],
)
def test_the_key_and_its_masked_and_partial_forms_are_redacted(text: str) -> None:
    scrubbed = scrub(text, [KEY])
    assert REDACTED in scrubbed
    for start in range(len(KEY) - 7):
        assert KEY[start : start + 8] not in scrubbed
    assert "*" * 3 not in scrubbed


def test_the_rest_of_the_message_is_kept() -> None:
    text = f"Incorrect API key provided: {_openai_mask(KEY)}. You can find your API key at x."
    assert scrub(text, [KEY]) == (
        f"Incorrect API key provided: {REDACTED}. You can find your API key at x."
    )


@pytest.mark.parametrize(
    "text",
    [
        "Invalid 'max_completion_tokens': integer below minimum value.",
        "Rate limit reached... please retry later.",
        "Missing required parameter: 'messages'.",
        "",
    ],
)
def test_ordinary_messages_are_left_alone(text: str) -> None:
    assert scrub(text, [KEY]) == text


def test_short_secrets_are_not_looked_for() -> None:
    assert scrub("any text", ["any"]) == "any text"


KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


@given(
    before=st.text(max_size=40),
    after=st.text(max_size=40),
    key=st.text(alphabet=KEY_CHARS, min_size=8, max_size=80),
)
def test_a_key_anywhere_in_any_text_never_survives(before: str, after: str, key: str) -> None:
    # (a key that is itself a piece of the word "<redacted>" would be found in it)
    assume(not any(key[start : start + 8] in REDACTED for start in range(len(key) - 7)))
    assert key not in scrub(before + key + after, [key])


def test_a_transport_scrubs_a_repeated_text_the_same_way_every_time() -> None:
    from batchwork_prefect._http import transport as module

    transport = module.Transport(
        provider="openai",
        base_url="https://api.openai.com/v1",
        auth_headers=lambda: {"authorization": f"Bearer {KEY}"},
        secrets=lambda: [KEY],
    )
    try:
        leaky = f"Incorrect API key provided: {_openai_mask(KEY)}."
        plain = "The server had an error while processing your request."
        for _ in range(3):
            assert transport.scrub(leaky) == f"Incorrect API key provided: {REDACTED}."
            assert transport.scrub(plain) == plain
        # past the texts it remembers, it still scrubs, and it never keeps a key's text
        for index in range(module._CLEAN_KEPT + 10):
            assert transport.scrub(f"{index} {KEY}") == f"{index} {REDACTED}"
            assert transport.scrub(f"clean {index}") == f"clean {index}"
        assert not any(KEY[8:16] in text for text in transport._clean)
    finally:
        transport.close()
