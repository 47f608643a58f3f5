"""Caller headers: checked once when a provider is made, compared without regard to case."""

from __future__ import annotations

from typing import Any

import pytest

from batchwork_prefect import ConfigurationError
from batchwork_prefect._http.auth import FRAMING_HEADERS, check_headers
from batchwork_prefect._http.transport import _SendProgress


def test_names_are_lowercased_and_values_kept() -> None:
    assert check_headers({"Anthropic-Beta": "a,b", "X-Trace": ""}) == {
        "anthropic-beta": "a,b",
        "x-trace": "",
    }
    assert check_headers(None) == {}


@pytest.mark.parametrize("name", sorted(FRAMING_HEADERS))
@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_framing_headers_are_refused_in_any_case(name: str, case: Any) -> None:
    with pytest.raises(ConfigurationError, match="the HTTP client sets it"):
        check_headers({case(name): "5"})


@pytest.mark.parametrize(
    "value", ["café", "snow ☃", "a\nb", "a\r\nX-Injected: 1", "nul\x00", "\x7f", 5, None, b"x"]
)
def test_values_that_cannot_be_sent_are_refused_without_echoing_them(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="'X-Note' cannot be sent") as caught:
        check_headers({"X-Note": value})
    if isinstance(value, str) and value:
        assert value not in str(caught.value)


@pytest.mark.parametrize("name", ["", "a b", "x:y", "é", "a\n", 5, None])
def test_names_that_are_not_tokens_are_refused(name: Any) -> None:
    with pytest.raises(ConfigurationError, match="header name"):
        check_headers({name: "v"})


def test_the_same_name_twice_in_different_case_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="given twice"):
        check_headers({"X-Note": "a", "x-note": "b"})


def test_reserved_names_are_refused_in_any_case_with_their_fix() -> None:
    reserved = {"x-api-key": "pass api_key=..."}
    for name in ("x-api-key", "X-Api-Key", "X-API-KEY"):
        with pytest.raises(ConfigurationError, match=f"'{name}' cannot be set: pass api_key"):
            check_headers({name: "k"}, reserved=reserved)


def test_headers_must_be_a_mapping() -> None:
    with pytest.raises(ConfigurationError, match="headers must be a dict"):
        check_headers([("a", "b")])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("events", "unsent"),
    [
        ([], False),  # a transport that does not trace proves nothing
        (["connection.connect_tcp.started", "connection.connect_tcp.complete"], False),
        (["http11.send_request_headers.started"], True),
        (["http11.send_request_headers.started", "http11.send_request_headers.failed"], True),
        (["http2.send_request_headers.started"], True),
        (["http11.send_request_headers.started", "http11.send_request_headers.complete"], False),
        (
            [
                "http11.send_request_headers.started",
                "http11.send_request_headers.complete",
                "http11.send_request_body.started",
                "http11.send_request_body.failed",
            ],
            False,
        ),
    ],
)
def test_send_progress_proves_unsent_only_between_head_start_and_end(
    events: list[str], unsent: bool
) -> None:
    progress = _SendProgress()
    for event in events:
        progress(event, {})
    assert progress.headers_unsent is unsent
