"""The ``[[emulate:...]]`` marker grammar: a table of texts and properties of the count."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchwork_prefect.emulator._markers import LineError, Marker, marker_plan, parse_marker

PARSED: list[tuple[str, Marker | None]] = [
    ("[[emulate:errored]]", Marker("errored")),
    ("[[emulate:errored:overloaded_error]]", Marker("errored", "overloaded_error")),
    ("[[emulate:expired]]", Marker("expired")),
    ("[[emulate:canceled]]", Marker("canceled")),
    ("[[emulate:errored:x1]]", Marker("errored", None, 1)),
    ("[[emulate:errored:overloaded_error:x2]]", Marker("errored", "overloaded_error", 2)),
    ("[[emulate:expired:x1]]", Marker("expired", None, 1)),
    ("[[emulate:canceled:x12]]", Marker("canceled", None, 12)),
    ("before [[emulate:errored:api_error:x3]] after", Marker("errored", "api_error", 3)),
    # a bare ``x`` is a (snake_case) error type, as before counts existed
    ("[[emulate:errored:x]]", Marker("errored", "x")),
    # the first well-formed marker wins, a malformed one before it is plain text
    ("[[emulate:errored:x0]] [[emulate:expired:x2]]", Marker("expired", None, 2)),
    ("[[emulate:errored:x0]]", None),
    ("[[emulate:errored:x01]]", None),
    ("[[emulate:errored:x-1]]", None),
    ("[[emulate:errored:x1.5]]", None),
    ("[[emulate:errored:X1]]", None),
    ("[[emulate:errored:1]]", None),
    ("[[emulate:errored:x1x]]", None),
    ("[[emulate:errored:x1:x2]]", None),
    ("[[emulate:errored:x1:overloaded_error]]", None),
    ("[[emulate:errored:overloaded_error:]]", None),
    ("[[emulate:errored:overloaded_error:x 1]]", None),
    ("[[emulate:errored: x1]]", None),
    ("[[emulate:succeeded:x1]]", None),
]


@pytest.mark.parametrize(("text", "expected"), PARSED, ids=[text for text, _ in PARSED])
def test_marker_table(text: str, expected: Marker | None) -> None:
    assert parse_marker(text) == expected


def _params(text: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": text}]}


def _kind(plan: object) -> str:
    return "errored" if isinstance(plan, LineError) else str(plan)


@settings(max_examples=200, deadline=None, database=None)
@given(
    kind=st.sampled_from(["errored", "expired", "canceled"]),
    error_type=st.none() | st.from_regex(r"[a-z_]{1,20}", fullmatch=True),
    times=st.integers(min_value=1, max_value=10**6),
    submission=st.integers(min_value=1, max_value=10**6 + 2),
)
def test_count_holds_for_the_first_n_submissions(
    kind: str, error_type: str | None, times: int, submission: int
) -> None:
    middle = "" if error_type is None else f":{error_type}"
    text = f"[[emulate:{kind}{middle}:x{times}]]"
    assert parse_marker(text) == Marker(kind, error_type, times)  # type: ignore[arg-type]
    plan = marker_plan(_params(text), submission)
    if submission <= times:
        assert _kind(plan) == kind
        if isinstance(plan, LineError):
            assert plan.error_type == (error_type or "api_error")
    else:
        assert plan == "succeeded"


@settings(max_examples=200, deadline=None, database=None)
@given(
    count=st.from_regex(r"[xX]?[0-9]{0,3}", fullmatch=True)
    | st.text(alphabet="x0123456789-+. Xab_:", max_size=6)
)
def test_a_count_that_is_not_x_then_a_positive_number_is_refused(count: str) -> None:
    marker = parse_marker(f"[[emulate:errored:overloaded_error:{count}]]")
    well_formed = count[:1] == "x" and count[1:].isdigit() and count[1:2] not in ("", "0")
    assert (marker is not None) == well_formed
    if marker is not None:
        assert marker.times == int(count[1:])


@given(submission=st.integers(min_value=1, max_value=10**9))
def test_without_a_count_the_marker_holds_for_every_submission(submission: int) -> None:
    assert marker_plan(_params("[[emulate:expired]]"), submission) == "expired"


def test_a_used_up_marker_gives_succeeded_without_reading_later_markers() -> None:
    params = _params("[[emulate:expired:x1]] then [[emulate:canceled]]")
    assert (marker_plan(params, 1), marker_plan(params, 2)) == ("expired", "succeeded")
