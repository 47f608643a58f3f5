"""The API reference (docs/api/*.md) documents every name the package exports."""

from __future__ import annotations

import re
from pathlib import Path

import batchwork_prefect
from batchwork_prefect import errors

API = Path(__file__).resolve().parents[2] / "docs" / "api"


def documented() -> set[str]:
    """The objects the reference's `::: path.to.name` directives render, by their last name."""
    text = "\n".join(page.read_text(encoding="utf-8") for page in API.glob("*.md"))
    return {path.rsplit(".", 1)[-1] for path in re.findall(r"^::: ([\w.]+)$", text, re.M)}


def test_every_exported_name_is_in_the_api_reference() -> None:
    names = set(batchwork_prefect.__all__)
    # the errors page renders the whole errors module, every class defined there
    rendered = documented() | {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and value.__module__ == errors.__name__
    }
    missing = sorted(names - rendered)
    assert not missing, f"add these to a page of docs/api/: {missing}"
    assert "errors" in documented()
