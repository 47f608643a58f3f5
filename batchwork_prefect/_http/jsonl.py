"""Splitting a byte stream into JSONL lines, a chunk at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class LineSplitter:
    """Turns arbitrary byte chunks into complete, non-blank lines.

    Each chunk is split with one `bytes.split`, never byte by byte; a partial last line is
    kept until its end arrives. Lines keep a trailing `\\r` of a `\\r\\n` ending, which JSON
    parsers read as whitespace; lines of only whitespace are skipped.
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        # The pieces of the unfinished line, joined once when its newline arrives: growing
        # one bytes object instead copied it whole on every chunk (quadratic in its length).
        self._pending: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines completed by `chunk`."""
        end = chunk.rfind(b"\n")
        if end < 0:
            if chunk:
                self._pending.append(chunk)
            return []
        pending = self._pending
        if pending:
            pending.append(chunk[:end])
            data = b"".join(pending)
        else:
            data = chunk[:end]
        rest = chunk[end + 1 :]
        self._pending = [rest] if rest else []
        return _non_blank(data.split(b"\n"))

    def flush(self) -> list[bytes]:
        """The last line, if the stream did not end with a newline."""
        rest, self._pending = b"".join(self._pending), []
        return _non_blank([rest])


def _non_blank(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if line and not line.isspace()]


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Every non-blank line of a chunked byte stream."""
    for lines in split_batches(chunks):
        yield from lines


def split_batches(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """The non-blank lines of a chunked byte stream, a non-empty list per chunk that ends one.

    For a hot loop: what is kept per line can then be kept per list, in C.
    """
    splitter = LineSplitter()
    for chunk in chunks:
        lines = splitter.feed(chunk)
        if lines:
            yield lines
    last = splitter.flush()
    if last:
        yield last
