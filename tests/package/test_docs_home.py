"""The docs site's home page is the README, its links made the site's: it cannot drift."""

from __future__ import annotations

from tests.support.docs import DOCS, README, index_from_readme


def test_the_home_page_is_the_readme_with_the_site_s_links() -> None:
    expected = index_from_readme(README.read_text(encoding="utf-8"))
    assert (DOCS / "index.md").read_text(encoding="utf-8") == expected, (
        'docs/index.md differs from README.md: run `python -c "from tests.support.docs '
        'import write_index; write_index()"`'
    )
