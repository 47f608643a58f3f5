"""docs/architecture.md, the map: its tree names every module of the package, where it lives."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A tree entry: two spaces per level, then a module (`name.py`) or a package (`name/`);
# the wrapped lines of a description start with a plain word and are not entries.
ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[\w.]+(?:\.py|/))(?:\s|$)")


def tree_modules() -> set[str]:
    """The modules the tree (the page's first fenced block) names, as paths from the root."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = re.search(r"^```\n(.*?)^```", text, re.S | re.M)
    assert block, "docs/architecture.md has no tree"
    named: set[str] = set()
    packages: list[str] = []
    for line in block.group(1).splitlines():
        entry = ENTRY.match(line)
        if entry is None:
            continue
        depth, name = len(entry["indent"]) // 2, entry["name"]
        assert len(entry["indent"]) % 2 == 0 and depth <= len(packages), line
        del packages[depth:]
        if name.endswith("/"):
            packages.append(name.removesuffix("/"))
        else:
            named.add("/".join([*packages, name]))
    return named


def package_modules() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "batchwork_prefect").rglob("*.py")}


def test_the_tree_is_read_as_paths() -> None:
    named = tree_modules()
    assert "batchwork_prefect/errors.py" in named
    assert "batchwork_prefect/orchestration/poller.py" in named
    assert "batchwork_prefect/emulator/__init__.py" in named


def test_every_module_of_the_package_is_named() -> None:
    missing = sorted(package_modules() - tree_modules())
    assert not missing, f"add these to the tree in docs/architecture.md: {missing}"


def test_every_module_named_exists() -> None:
    gone = sorted(tree_modules() - package_modules())
    assert not gone, f"docs/architecture.md names modules that are not there: {gone}"


def test_a_new_provider_has_its_row() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    row = next((line for line in text.splitlines() if line.startswith("| a new provider ")), None)
    assert row, "docs/architecture.md's 'Where a change goes' has no 'a new provider' row"
    # every file and folder the row names is there
    for path in re.findall(r"`((?:tests/|docs/)?[\w/<>.]+(?:\.py|\.md|/))`", row):
        if "<name>" not in path:
            top = ROOT if path.startswith(("tests/", "docs/")) else ROOT / "batchwork_prefect"
            assert (top / path).exists(), f"the 'a new provider' row names {path}, not there"
    # and every name it gives (`CREDENTIALS_BLOCKS`, `WireFormat`, ...) is defined in the package
    source = "\n".join(p.read_text() for p in (ROOT / "batchwork_prefect").rglob("*.py"))
    for name in re.findall(r"`([A-Za-z_]\w*)`", row):
        assert re.search(rf"^(class {name}\b|{name}\b.*=)", source, re.M), name
