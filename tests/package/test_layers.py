"""The package's layers: the import contracts in pyproject.toml hold, and catch a break.

`lint-imports` runs the contracts ([tool.importlinter] in pyproject.toml); a broken layer
fails the suite here as well as in .ci/run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "batchwork_prefect"
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))
CONTRACTS = [
    contract["name"]
    for contract in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ]
]
LAYERS, NO_PREFECT_BELOW, EMULATOR_IMPORTS_NOTHING, ONLY_CLI_AND_DEMO, NO_CYCLE = range(5)
LAYERS_AND_PREFECT = -1  # the Prefect layer pulls in Prefect: both contracts break


def lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_import_contracts_are_kept() -> None:
    completed = lint_imports(ROOT)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = " ".join(completed.stdout.split())
    assert [f"{name} KEPT" in report for name in CONTRACTS] == [True] * 5


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("core/build.py", "import batchwork_prefect.orchestration.persistence", LAYERS_AND_PREFECT),
        ("webhooks.py", "import batchwork_prefect.core", LAYERS),
        ("models/results.py", "import batchwork_prefect.providers", LAYERS),
        ("usage.py", "import batchwork_prefect.pricing", LAYERS),
        ("pricing.py", "import batchwork_prefect.models", LAYERS),
        ("emulator/_state.py", "import batchwork_prefect.models", EMULATOR_IMPORTS_NOTHING),
        ("emulator/__init__.py", "import batchwork_prefect", EMULATOR_IMPORTS_NOTHING),
        ("providers/base.py", "import batchwork_prefect.emulator", ONLY_CLI_AND_DEMO),
        ("core/job.py", "import prefect.context", NO_PREFECT_BELOW),
        ("webhooks.py", "from prefect import flow", NO_PREFECT_BELOW),
        ("orchestration/persistence.py", "import batchwork_prefect.orchestration.scopes", NO_CYCLE),
    ],
)
def test_a_break_fails_its_contract(tmp_path: Path, module: str, line: str, contract: int) -> None:
    """The same contracts on a copy of the package with one import that breaks a rule."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    copy = tmp_path / "batchwork_prefect"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}\n")

    completed = lint_imports(tmp_path, {**os.environ, "PYTHONPATH": str(tmp_path)})

    assert completed.returncode == 1, completed.stdout + completed.stderr
    report = " ".join(completed.stdout.split())
    assert [f"{name} BROKEN" in report for name in CONTRACTS] == [
        index == contract
        or (contract == LAYERS_AND_PREFECT and index in (LAYERS, NO_PREFECT_BELOW))
        for index in range(len(CONTRACTS))
    ], completed.stdout


def test_the_emulator_is_walled_off() -> None:
    """Whatever modules the package grows: the emulator imports only itself, and only the
    CLI and the demo import it."""
    graph = grimp.build_graph("batchwork_prefect", exclude_type_checking_imports=True)
    emulator = {"batchwork_prefect.emulator"} | graph.find_descendants("batchwork_prefect.emulator")
    imported = {
        target for source in emulator for target in graph.find_modules_directly_imported_by(source)
    }
    importers = {
        source for target in emulator for source in graph.find_modules_that_directly_import(target)
    }
    assert imported - emulator == set()
    packages = {".".join(module.split(".")[:2]) for module in importers - emulator}
    assert packages == {"batchwork_prefect.cli", "batchwork_prefect.demo"}


@pytest.mark.parametrize(
    "module",
    [
        "batchwork_prefect.core",
        "batchwork_prefect.webhooks",
        "batchwork_prefect.providers",
        "batchwork_prefect.emulator",
    ],
)
def test_the_plain_python_layers_import_no_prefect(module: str) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import json, sys, {module}\n"
            "print(json.dumps([m for m in sys.modules if m.split('.')[0] == 'prefect']))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == []


def test_the_development_page_names_the_layers_as_the_contract_orders_them() -> None:
    import re
    import tomllib

    page = (ROOT / "docs" / "development.md").read_text()
    sentence = " ".join(page.split("from the\nbottom up:", 1)[1].split("The `emulator`")[0].split())
    named = re.findall(r"`([a-z_]+)`", sentence)
    contract = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ][0]["layers"]
    bottom_up = [name for layer in reversed(contract) for name in layer.split(" | ")]
    assert named == bottom_up
