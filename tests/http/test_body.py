"""Create bodies streamed from their parts equal the joined bytes, every time they are sent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect._http import body as _body
from batchwork_prefect._http.body import Body


@given(st.lists(st.binary(max_size=40), max_size=30), st.integers(min_value=1, max_value=64))
def test_streamed_bytes_equal_the_joined_body(parts: list[bytes], slice_bytes: int) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_body, "SLICE_BYTES", slice_bytes)
        body = Body(parts, prefix=b'{"requests":[', separator=b",", suffix=b"]}")
        expected = b'{"requests":[' + b",".join(parts) + b"]}"
        assert b"".join(body) == expected
        assert b"".join(body) == expected  # a retry sends it whole again
        assert len(body) == len(expected)


def test_large_bodies_go_in_slices_not_one_buffer() -> None:
    parts = [b"x" * 1000] * 3000  # about 3 MB
    chunks = list(Body(parts, separator=b","))
    assert len(chunks) > 3
    assert max(map(len, chunks)) < 2 * _body.SLICE_BYTES
    assert bytes(Body(parts, separator=b",")) == b",".join(parts)
