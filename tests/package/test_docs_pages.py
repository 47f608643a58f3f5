"""Every Markdown page renders as written: its code fences are closed, so no section after
an unclosed one reads as code; and a page that points at a name in a module
(`` `module.py`: `NAME` ``) points at one that is there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PAGES = sorted([*ROOT.glob("docs/**/*.md"), ROOT / "README.md"])
PACKAGE = ROOT / "batchwork_prefect"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_code_fence_is_closed(page: Path) -> None:
    fences = [line for line in page.read_text().splitlines() if line.lstrip().startswith("```")]
    assert len(fences) % 2 == 0, f"{page.name}: a ``` fence is never closed"
    closing = [line.strip() for index, line in enumerate(fences) if index % 2 == 1]
    assert set(closing) <= {"```"}, f"{page.name}: a fence closes with a language: {closing}"


def test_a_page_s_module_and_name_pairs_are_in_the_package() -> None:
    pairs = {
        (module, name)
        for page in PAGES
        for module, name in re.findall(r"`([a-z_/]+\.py)`: `([A-Za-z_]+)`", page.read_text())
    }
    assert pairs, "no `module.py`: `NAME` pair found: the pattern is stale"
    for module, name in pairs:
        files = [path for path in PACKAGE.rglob(Path(module).name) if str(path).endswith(module)]
        assert files, f"{module} is not a module of the package"
        assert any(re.search(rf"\b{name}\b", path.read_text()) for path in files), (module, name)
