"""Markers with a count (``:x<N>``): an outcome for the first N submissions of a custom_id,
counted per API when a batch is stored; both wire formats, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from batchwork_prefect.emulator import Emulator, Fault
from tests.emulator import openai_helpers as oa
from tests.emulator.emulator_helpers import BATCHES, HEADERS, create, request, results


@pytest.fixture
def both(emu: Emulator) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Anthropic and OpenAI clients on the same (instant-processing) emulator."""
    with (
        httpx.Client(base_url=emu.base_url, headers=HEADERS, timeout=10) as anthropic_http,
        httpx.Client(base_url=emu.openai_base_url, timeout=10) as openai_http,
    ):
        yield anthropic_http, openai_http


def _openai_round(client: httpx.Client, entries: list[Any]) -> dict[str, dict[str, Any]]:
    """Create a batch (processing is instant) and return every line of both files."""
    batch = oa.retrieve(client, oa.create(client, entries)["id"])
    assert batch["status"] == "completed", batch
    lines = oa.file_lines(client, batch["output_file_id"])
    lines.update(oa.file_lines(client, batch["error_file_id"]))
    return lines


def test_counted_error_repeats_n_times_then_succeeds(emu: Emulator, client: httpx.Client) -> None:
    marked = request("busy", "x [[emulate:errored:overloaded_error:x2]]")
    batches = [create(client, [marked, request("plain")]) for _ in range(3)]
    assert emu.submissions("busy") == emu.submissions("plain") == 3
    # read newest first: each outcome was fixed when its batch was created
    rounds = [results(client, batch["id"]) for batch in reversed(batches)][::-1]
    for lines in rounds[:2]:
        assert lines["busy"]["type"] == "errored"
        assert lines["busy"]["error"]["error"]["type"] == "overloaded_error"
        assert lines["busy"]["error"]["request_id"].startswith("req_")
    assert rounds[2]["busy"]["type"] == "succeeded"
    assert all(lines["plain"]["type"] == "succeeded" for lines in rounds)
    assert results(client, batches[0]["id"]) == rounds[0]


def test_count_without_type_and_on_expired_and_canceled(client: httpx.Client) -> None:
    marked = [
        request("err", "[[emulate:errored:x1]]"),
        request("exp", "[[emulate:expired:x1]]"),
        request("can", "[[emulate:canceled:x1]]"),
    ]
    first = results(client, create(client, marked)["id"])
    assert first["err"]["error"]["error"]["type"] == "api_error"
    assert first["exp"] == {"type": "expired"}
    assert first["can"] == {"type": "canceled"}
    second = results(client, create(client, marked)["id"])
    assert {custom_id: line["type"] for custom_id, line in second.items()} == {
        "err": "succeeded",
        "exp": "succeeded",
        "can": "succeeded",
    }


def test_marker_without_count_holds_for_every_submission(
    emu: Emulator, client: httpx.Client
) -> None:
    for _ in range(3):
        lines = results(client, create(client, [request("e", "[[emulate:expired]]")])["id"])
        assert lines["e"] == {"type": "expired"}
    assert emu.submissions("e") == 3


@pytest.mark.parametrize(
    "text",
    [
        "[[emulate:errored:x0]]",
        "[[emulate:errored:x01]]",
        "[[emulate:errored:overloaded_error:x]]",
        "[[emulate:expired:X1]]",
        "[[emulate:expired:x1:x2]]",
        "[[emulate:errored:x1:overloaded_error]]",
    ],
)
def test_malformed_count_is_not_a_marker(client: httpx.Client, text: str) -> None:
    batch = create(client, [request("m", f"{text} [[emulate:canceled]]"), request("p", text)])
    lines = results(client, batch["id"])
    assert lines["m"] == {"type": "canceled"}  # the next well-formed marker decides
    assert lines["p"]["type"] == "succeeded"
    assert lines["p"]["message"]["content"][0]["text"].endswith(text)  # kept as prompt text


def test_cancelled_before_it_ran_still_counts(emu: Emulator, client: httpx.Client) -> None:
    emu.settings.processing_seconds = 60
    marked = request("once", "[[emulate:errored:x1]]")
    first = create(client, [marked])
    assert client.post(f"{BATCHES}/{first['id']}/cancel").status_code == 200
    assert results(client, first["id"])["once"] == {"type": "canceled"}
    second = create(client, [marked])
    emu.advance(60)
    assert emu.submissions("once") == 2
    assert results(client, second["id"])["once"]["type"] == "succeeded"


def test_expired_before_it_ran_still_counts(emu: Emulator, client: httpx.Client) -> None:
    emu.settings.processing_seconds = 2 * 86_400
    marked = request("once", "[[emulate:errored:x1]]")
    first = create(client, [marked])
    emu.settings.processing_seconds = 0
    second = create(client, [marked])
    emu.advance(86_400)
    assert results(client, first["id"])["once"] == {"type": "expired"}
    assert results(client, second["id"])["once"]["type"] == "succeeded"


def test_refused_or_faulted_create_counts_nothing(emu: Emulator, client: httpx.Client) -> None:
    marked = request("once", "[[emulate:errored:x1]]")
    duplicate = client.post(BATCHES, json={"requests": [marked, marked]})
    assert duplicate.status_code == 400
    emu.add_fault(Fault(route="create", status=529))
    assert client.post(BATCHES, json={"requests": [marked]}).status_code == 529
    assert emu.submissions("once") == 0
    emu.add_fault(Fault(route="create", status=500, after_create=True))
    assert client.post(BATCHES, json={"requests": [marked]}).status_code == 500
    assert emu.submissions("once") == 1
    assert results(client, create(client, [marked])["id"])["once"]["type"] == "succeeded"


def test_openai_counted_markers(emu: Emulator, both: tuple[httpx.Client, httpx.Client]) -> None:
    _, client = both
    entries = [
        oa.line("busy", "x [[emulate:errored:rate_limit_error:x2]]"),
        oa.line("boom", "x [[emulate:errored:x1]]"),
        oa.line("late", "x [[emulate:expired:x1]]"),
    ]
    first = _openai_round(client, entries)
    assert first["busy"]["response"]["status_code"] == 429
    assert first["busy"]["response"]["body"]["error"]["type"] == "rate_limit_error"
    assert first["boom"]["response"]["status_code"] == 500
    assert first["late"]["error"]["code"] == "batch_expired"
    second = _openai_round(client, entries)
    assert second["busy"]["response"]["status_code"] == 429
    assert second["boom"]["response"]["status_code"] == 200
    assert second["late"]["response"]["status_code"] == 200
    third = _openai_round(client, entries)
    assert third["busy"]["response"]["status_code"] == 200
    assert emu.submissions("busy", api="openai") == 3


def test_openai_failed_batch_counts_nothing(
    emu: Emulator, both: tuple[httpx.Client, httpx.Client]
) -> None:
    _, client = both
    marked = oa.line("once", "[[emulate:errored:x1]]")
    failed = oa.create(client, [marked, {**oa.line("bad"), "method": "GET"}])
    assert oa.retrieve(client, failed["id"])["status"] == "failed"
    assert emu.submissions("once", api="openai") == 0
    assert _openai_round(client, [marked])["once"]["response"]["status_code"] == 500


def test_each_api_counts_its_own_submissions(
    emu: Emulator, both: tuple[httpx.Client, httpx.Client]
) -> None:
    anthropic_http, openai_http = both
    create(anthropic_http, [request("a", "[[emulate:errored:x1]]")])
    create(anthropic_http, [request("a", "[[emulate:errored:x1]]")])
    assert (emu.submissions("a"), emu.submissions("a", api="openai")) == (2, 0)
    lines = _openai_round(openai_http, [oa.line("a", "[[emulate:errored:x1]]")])
    assert lines["a"]["response"]["status_code"] == 500
    assert (emu.submissions("a", api="anthropic"), emu.submissions("a", api="openai")) == (2, 1)
    assert emu.submissions("never") == 0
    with pytest.raises(ValueError, match="api must be one of anthropic, openai"):
        emu.submissions("a", api="groq")
