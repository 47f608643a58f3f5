"""The site's benchmark results page: BENCHMARKS.md (which `python -m bench` rewrites) as is.

BENCHMARKS.md lives at the repository root, outside the docs folder, and links into docs/;
the page takes its text at build time with those links made relative to the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PAGE = "benchmark-results.md"
SOURCE = Path(__file__).resolve().parents[2] / "BENCHMARKS.md"


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    return SOURCE.read_text(encoding="utf-8").replace("](docs/", "](")
