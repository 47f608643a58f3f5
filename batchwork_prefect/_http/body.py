"""Request bodies sent from their parts, never joined into one buffer."""

from __future__ import annotations

import secrets
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


def multipart_file(
    lines: Sequence[bytes],
    *,
    fields: Sequence[tuple[str, str]],
    name: str,
    filename: str,
    content_type: str = "application/jsonl",
) -> tuple[Body, str]:
    """A `multipart/form-data` body of text `fields` and one JSONL file of `lines`, and its
    content type.

    The file is the lines joined by newlines, sent from its parts like any `Body`. The
    boundary is random; JSON lines never hold a raw CR or LF, so it cannot occur in them.
    """
    boundary = f"batchwork-{secrets.token_hex(16)}"
    disposition = '--{}\r\nContent-Disposition: form-data; name="{}"\r\n\r\n{}\r\n'
    head = b"".join(disposition.format(boundary, field, value).encode() for field, value in fields)
    head += (
        f"--{boundary}\r\nContent-Disposition: form-data; "
        f'name="{name}"; filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
    ).encode()
    tail = f"\n\r\n--{boundary}--\r\n".encode()
    body = Body(lines, prefix=head, separator=b"\n", suffix=tail)
    return body, f"multipart/form-data; boundary={boundary}"
