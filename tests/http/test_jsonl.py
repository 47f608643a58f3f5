"""Chunked JSONL line splitting, at every chunk boundary."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect._http.jsonl import LineSplitter, split_batches, split_lines

LINES = [b'{"custom_id":"a","n":1}', b'{"custom_id":"b","text":"x\\ny"}', b'{"custom_id":"c"}']
PAYLOAD = b"\n".join(LINES) + b"\n"


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(points)]


def test_every_single_split_point_gives_the_same_lines() -> None:
    for cut in range(len(PAYLOAD) + 1):
        assert list(split_lines([PAYLOAD[:cut], PAYLOAD[cut:]])) == LINES


@given(st.lists(st.integers(min_value=0, max_value=len(PAYLOAD)), max_size=40))
def test_any_chunking_gives_the_same_lines(cuts: list[int]) -> None:
    assert list(split_lines(_chunks(PAYLOAD, cuts))) == LINES


@given(
    lines=st.lists(
        st.binary(min_size=1, max_size=30).filter(lambda b: b"\n" not in b and not b.isspace()),
        max_size=20,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=30),
    crlf=st.booleans(),
    final_newline=st.booleans(),
)
def test_arbitrary_lines_survive_arbitrary_chunking(
    lines: list[bytes], cuts: list[int], crlf: bool, final_newline: bool
) -> None:
    ending = b"\r\n" if crlf else b"\n"
    data = ending.join(lines) + (ending if final_newline and lines else b"")
    cuts = [cut for cut in cuts if cut <= len(data)]
    got = list(split_lines(_chunks(data, cuts)))
    expected = [
        line + b"\r" if crlf and (i < len(lines) - 1 or final_newline) else line
        for i, line in enumerate(lines)
    ]
    assert [line for line in got] == [line for line in expected if not line.isspace()]


def test_blank_and_whitespace_lines_are_skipped() -> None:
    data = b'\n{"a":1}\n\n  \r\n{"b":2}\r\n\n'
    assert list(split_lines([data])) == [b'{"a":1}', b'{"b":2}\r']


def test_unterminated_last_line_is_flushed() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b'{"a":1}\n{"b"') == [b'{"a":1}']
    assert splitter.feed(b":2}") == []
    assert splitter.flush() == [b'{"b":2}']
    assert splitter.flush() == []


@given(
    data=st.lists(st.sampled_from([b"\n", b"\r\n", b" ", b"\t", b"a", b"{}", b"\xff", b"xyz"])).map(
        b"".join
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=40),
)
def test_output_equals_bytes_split_for_any_chunking(data: bytes, cuts: list[int]) -> None:
    expected = [line for line in data.split(b"\n") if line and not line.isspace()]
    chunks = _chunks(data, [cut for cut in cuts if cut <= len(data)])
    assert list(split_lines(chunks)) == expected
    splitter = LineSplitter()  # the same, fed by hand with empty chunks in between
    got = [line for chunk in chunks for line in splitter.feed(chunk) + splitter.feed(b"")]
    assert got + splitter.flush() == expected


def test_a_long_line_in_small_chunks_is_kept_as_pieces_and_joined_once() -> None:
    # Re-joining the unfinished line on every chunk copied it whole each time: a 50 MB line
    # took seconds. The pieces must be held as received until the newline comes.
    chunks = [bytes([97 + i % 26]) * 1000 for i in range(5000)]
    splitter = LineSplitter()
    for chunk in chunks:
        assert splitter.feed(chunk) == []
    pending = splitter._pending
    assert len(pending) == len(chunks)
    assert all(held is chunk for held, chunk in zip(pending, chunks, strict=True))
    assert splitter.feed(b'"}\n{"next"') == [b"".join(chunks) + b'"}']
    assert splitter.flush() == [b'{"next"']


@given(st.lists(st.integers(min_value=0, max_value=len(PAYLOAD) + 3), max_size=40))
def test_batches_are_the_lines_in_non_empty_lists(cuts: list[int]) -> None:
    data = b"\n" + PAYLOAD + b"  \n"
    batches = list(split_batches(_chunks(data, [cut for cut in cuts if cut <= len(data)])))
    assert all(batches)
    assert [line for lines in batches for line in lines] == LINES
