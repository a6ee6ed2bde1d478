"""Workspace rules: PEP 420 namespace, one-way dependencies, every package complete."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p.parent for p in (ROOT / "packages").glob("*/pyproject.toml"))


def test_expected_packages_exist() -> None:
    names = {p.name for p in PACKAGES}
    assert {"pgs-core", "pgs-audio", "pgs-density", "pgs-fusion", "pgs-eval"} <= names


def test_no_namespace_init_anywhere() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in ROOT.glob("**/src/pgs/__init__.py") if ".venv" not in p.parts]
    assert offenders == [], f"pgs is a PEP 420 namespace package; remove {offenders}"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_package_is_complete(package: Path) -> None:
    assert (package / "README.md").is_file()
    assert (package / "tests").is_dir()
    module = package.name.removeprefix("pgs-")
    assert (package / "src" / "pgs" / module / "__init__.py").is_file()


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_core_imports_no_other_pgs_package() -> None:
    offenders = []
    for path in (ROOT / "packages" / "pgs-core" / "src").rglob("*.py"):
        for name in _imported_modules(path):
            if name.startswith("pgs.") and not name.startswith("pgs.core"):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


@pytest.mark.parametrize("package", [p for p in PACKAGES if p.name != "pgs-core"], ids=lambda p: p.name)
def test_plugin_packages_import_only_core(package: Path) -> None:
    own = "pgs." + package.name.removeprefix("pgs-")
    offenders = []
    for path in (package / "src").rglob("*.py"):
        for name in _imported_modules(path):
            if name.startswith("pgs.") and not (name.startswith("pgs.core") or name.startswith(own)):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
