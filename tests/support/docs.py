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


README = DOCS.parent / "README.md"

_SITE_WORDS = (
    ("](docs/", "]("),
    ("[BENCHMARKS.md](BENCHMARKS.md)", "[Results](benchmark-results.md)"),
    (
        "The documentation site is built from `docs/` (`pip install -e '.[docs]' && mkdocs "
        "serve`);\neach page also reads as Markdown here:",
        "The other pages of this site:",
    ),
)


def index_from_readme(readme: str) -> str:
    """The docs site's home page (docs/index.md): the README with its links made the site's.
    `python -c "from tests.support.docs import write_index; write_index()"` writes it."""
    for old, new in _SITE_WORDS:
        assert old in readme, f"the README no longer says {old!r}: update _SITE_WORDS"
        readme = readme.replace(old, new)
    return readme


def write_index() -> None:
    """Write docs/index.md from README.md."""
    (DOCS / "index.md").write_text(index_from_readme(README.read_text(encoding="utf-8")))
