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
        self._pending = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines completed by `chunk`."""
        end = chunk.rfind(b"\n")
        if end < 0:
            self._pending += chunk
            return []
        data = self._pending + chunk[:end] if self._pending else chunk[:end]
        self._pending = chunk[end + 1 :]
        return _non_blank(data.split(b"\n"))

    def flush(self) -> list[bytes]:
        """The last line, if the stream did not end with a newline."""
        rest, self._pending = self._pending, b""
        return _non_blank([rest])


def _non_blank(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if line and not line.isspace()]


def split_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Every non-blank line of a chunked byte stream."""
    splitter = LineSplitter()
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.flush()
