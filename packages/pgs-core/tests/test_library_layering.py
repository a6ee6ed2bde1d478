"""Library code never imports the CLI: only modules of ``pgs/core/cli`` and plugin command modules may."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3] / "packages"
COMMAND_MODULES = {"command.py", "commands.py"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_library_modules_do_not_import_the_cli() -> None:
    offenders = []
    for path in sorted(ROOT.glob("*/src/pgs/**/*.py")):
        if "/cli/" in path.as_posix() or path.name in COMMAND_MODULES:
            continue
        cli = sorted(n for n in _imports(path) if n == "pgs.core.cli" or n.startswith("pgs.core.cli."))
        if cli:
            offenders.append(f"{path.relative_to(ROOT)}: {', '.join(cli)}")
    assert not offenders, "library code imports the CLI:\n" + "\n".join(offenders)
