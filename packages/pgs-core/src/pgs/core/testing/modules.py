"""Importing a script or a helper that is not in a package (examples, test helpers) by its path."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_module_file(path: str | Path, name: str | None = None) -> ModuleType:
    """Execute the Python file at `path` as a fresh module (not added to ``sys.modules``).

    Args:
        path: the ``.py`` file.
        name: the module's ``__name__`` (default: the file's stem).

    Raises:
        FileNotFoundError: no such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such Python file")
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{path}: not loadable as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


__all__ = ["load_module_file"]
