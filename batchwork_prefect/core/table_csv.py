"""CSV records read strictly, each with the line it starts on; and CSV cells written.

A quote left open is a problem naming its line, never a value that swallows the rows
after it; a NUL character means the file is not UTF-8 text.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec


def csv_records(path: Path, problems: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Each record of the file (the header first) with the line it starts on.

    Blank lines are skipped. A bad record is added to `problems` as `path:line: ...` and
    skipped; a bad first record (the header) ends the reading.
    """
    # utf-8-sig: spreadsheets often start a CSV export with a byte-order mark.
    with path.open(newline="", encoding="utf-8-sig") as handle:
        # strict: an unclosed quote is an error, not a field that swallows the rest of the file.
        reader = csv.reader(handle, strict=True)
        header_read = False
        end = 0  # the line the previous record ended on
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                problems.append(f"{path}: not UTF-8 text ({exc}); save the file as UTF-8")
                return
            except csv.Error as exc:
                problems.append(f"{path}:{end + 1}: {_csv_problem(exc, end + 1, reader.line_num)}")
                if not header_read:
                    return
                # The reader has consumed the bad line; go on, to report every problem.
                end = reader.line_num
                continue
            start, end = end + 1, reader.line_num
            if not record:  # a blank line
                continue
            if any("\0" in field for field in record):
                problems.append(
                    f"{path}:{start}: a NUL character; the file is binary or not UTF-8 "
                    "(UTF-16?): save it as UTF-8 text"
                )
                if not header_read:
                    return
                continue
            header_read = True
            yield start, record


def _csv_problem(exc: csv.Error, first_line: int, last_line: int) -> str:
    """What a `csv.Error` in the record on lines `first_line`-`last_line` means, and the fix."""
    message = str(exc)
    if message == "unexpected end of data":
        return (
            "a quoted value opens here and is never closed, so it would swallow every "
            'line after it; close the quote, and double each quote inside a quoted value ("")'
        )
    if message.startswith("',' expected after"):
        left_open = (
            f", or close the quote left open (the record runs to line {last_line})"
            if last_line > first_line
            else ""
        )
        return (
            "text after a closing quote; quote the whole value and double each quote "
            'inside it ("")' + left_open
        )
    if message.startswith("field larger than field limit"):
        return f"{message}; put prompts this long in a .jsonl file"
    return f"{message}; save the file as CSV with a header row"


def csv_cell(value: Any) -> str:
    """A value as a CSV cell: text as it is, nothing as empty, anything else as its JSON
    (msgspec's: an integer of any size is kept, where orjson stops at 64 bits)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return msgspec.json.encode(value).decode()


def write_csv(path: Path, columns: list[str], rows: Iterator[list[str]]) -> None:
    """A CSV file of a header row and `rows` (UTF-8, quoted where a value needs it)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows(rows)
