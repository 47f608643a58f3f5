"""The docs pages (docs/*.md) whose text the tests run as written or check."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def doc_page(name: str) -> str:
    """The text of docs/<name>.md, e.g. `doc_page("deployments")`."""
    return (DOCS / f"{name}.md").read_text(encoding="utf-8")


def first_block(text: str, language: str) -> str:
    """The body of the first fenced block of that language (```bash, ```python) in the text."""
    block = re.search(rf"^```{language}\n(.*?)^```", text, re.S | re.M)
    assert block, f"no {language} block"
    return block.group(1)
