"""The hand-checked path for plain request dicts agrees with pydantic's validation."""

from __future__ import annotations

from typing import Any

import pydantic
from hypothesis import given
from hypothesis import strategies as st

from batchwork_prefect.core.build import _plain_request
from batchwork_prefect.models import BatchRequest
from batchwork_prefect.providers.anthropic import encode_request, request_params

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=5),
    st.text(max_size=6),
    st.sampled_from(["ok_id-1", "a" * 64, "a" * 65, "bad id", "line\n", "é", ""]),
    st.lists(st.integers(), max_size=1),
)
REQUESTS = st.dictionaries(
    st.sampled_from(["custom_id", "prompt", "system", "max_tokens", "messages", "other"]),
    VALUES,
    max_size=5,
)


@given(REQUESTS)
def test_plain_path_equals_pydantic_or_steps_aside(request: dict[str, Any]) -> None:
    quick = _plain_request(request)
    try:
        validated = BatchRequest.model_validate(request)
    except pydantic.ValidationError:
        assert quick is None
        return
    if quick is None:
        return  # not a plain shape: pydantic's path handles it
    assert quick == validated
    assert quick.model_fields_set == validated.model_fields_set
    assert encode_request("x", request_params("m", quick, {"max_tokens": 9})) == encode_request(
        "x", request_params("m", validated, {"max_tokens": 9})
    )


def test_the_common_shapes_take_the_plain_path() -> None:
    assert _plain_request({"custom_id": "a", "prompt": "hi"}) is not None
    assert _plain_request({"prompt": "hi", "system": "s", "max_tokens": 5}) is not None
    assert _plain_request({"custom_id": "a\n", "prompt": "hi"}) is None
    assert _plain_request({"prompt": "hi", "max_tokens": True}) is None
    assert _plain_request({"prompt": "hi", "max_tokens": 0}) is None
    assert _plain_request(BatchRequest(prompt="hi")) is None
