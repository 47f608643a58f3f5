"""Request bodies sent from their parts, never joined into one buffer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

SLICE_BYTES = 1 << 20
"""About how much of the body is joined at a time."""


class Body:
    """`prefix + separator.join(parts) + suffix`, sent in slices of about a megabyte.

    A create body of 100,000 requests is hundreds of megabytes at most; joining it would
    hold it twice. Iterating again starts over, so a retried request sends it whole again.
    """

    def __init__(
        self,
        parts: Sequence[bytes],
        *,
        prefix: bytes = b"",
        separator: bytes = b"",
        suffix: bytes = b"",
    ) -> None:
        self._parts = parts
        self._prefix = prefix
        self._separator = separator
        self._suffix = suffix

    def __len__(self) -> int:
        separators = len(self._separator) * max(len(self._parts) - 1, 0)
        return len(self._prefix) + sum(map(len, self._parts)) + separators + len(self._suffix)

    def __iter__(self) -> Iterator[bytes]:
        separator = self._separator
        group: list[bytes] = []
        size = 0
        first = True
        yield self._prefix
        for part in self._parts:
            group.append(part)
            size += len(part)
            if size >= SLICE_BYTES:
                yield (b"" if first else separator) + separator.join(group)
                first, group, size = False, [], 0
        if group:
            yield (b"" if first else separator) + separator.join(group)
        yield self._suffix

    def __bytes__(self) -> bytes:
        return b"".join(self)
