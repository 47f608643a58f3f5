"""A JSONL download read to its end: a stream cut by the network is read again and resumed."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import httpx

from batchwork_prefect._http.jsonl import split_batches
from batchwork_prefect._http.retry import retry_delay
from batchwork_prefect._http.transport import Retry, Transport
from batchwork_prefect.errors import ResultsIntegrityError, TransportError


def resumed_lines(
    transport: Transport,
    url: httpx.URL,
    *,
    what: str,
    sleep: Callable[[float], None],
) -> Iterator[list[bytes]]:
    """The non-blank lines of the JSONL at `url`, a list per network read.

    A cut stream is read again from the start, and its lines are yielded from after the
    ones already yielded, once those are checked to be the same (`_replay`); past the
    transport's retries the cut raises `TransportError`. `what` names the stream in errors
    ("results of msgbatch_...").
    """
    done = size = 0  # what was read: lines, bytes, and the last line, for a re-read
    last = b""
    attempt = 0
    while True:
        try:
            with transport.stream("GET", url, retry=Retry.IDEMPOTENT) as response:
                batches = split_batches(response.iter_bytes())
                if done:  # a re-read: the lines already yielded come first
                    batches = _replay(batches, done, size, last, what)
                for lines in batches:
                    # A cut can only come between lists (at the next network read).
                    done += len(lines)
                    size += sum(map(len, lines))
                    last = lines[-1]
                    yield lines
            return
        except (httpx.TransportError, httpx.StreamError) as exc:
            if attempt >= transport.max_retries:
                raise TransportError(
                    f"{what}: the stream kept breaking after {done} lines ({type(exc).__name__})",
                    method="GET",
                    url=str(url),
                ) from None
            sleep(retry_delay(attempt))
            attempt += 1


def _replay(
    batches: Iterator[list[bytes]], done: int, size: int, last: bytes, what: str
) -> Iterator[list[bytes]]:
    """`batches` after the `done` lines read before, once checked to be the same lines.

    Checked by their number, their total size and the last line, exactly: a summary cheap
    enough for the hot loop (a running checksum cost a quarter of a read). A re-read that
    reorders lines is caught by the audit too: it sees repeated and missing custom_ids.
    """
    count = replayed = 0
    for lines in batches:
        if count + len(lines) < done:
            count += len(lines)
            replayed += sum(map(len, lines))
            continue
        cut = done - count
        replayed += sum(map(len, lines[:cut]))
        if replayed != size or lines[cut - 1] != last:
            break
        rest = lines[cut:]
        return itertools.chain([rest] if rest else [], batches)
    raise ResultsIntegrityError([f"{what} changed between reads; cannot resume safely"])
