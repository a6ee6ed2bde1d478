"""Lazy re-exports (PEP 562) for package ``__init__`` modules.

A package lists its public names and the module each lives in; the module is imported the first
time a name is used. So ``import pgs.core`` (and every ``pgs`` command's ``--help``) imports
neither torch nor numpy, while ``from pgs.core import Trainer`` still works.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str], eager: dict[str, Any] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Build ``(__getattr__, __dir__, __all__)`` for a package that re-exports `exports` lazily.

    Args:
        package: the package's ``__name__``.
        exports: public name -> the module defining it (absolute module path).
        eager: names already defined in the package (listed in ``__all__`` too).

    Returns:
        The module-level ``__getattr__`` and ``__dir__`` functions and the ``__all__`` list.
    """
    names = sorted({*exports, *(eager or {})})

    def get_attribute(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def list_names() -> list[str]:
        return names

    return get_attribute, list_names, names


def lazy_modules(
    package: str, modules: dict[str, str], eager: dict[str, Any] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """`lazy_exports` from the compact form: module -> its public names, space-separated.

    Example: ``lazy_modules(__name__, {"pgs.fusion.mgf": "MGFConfig MGFFusion"})``.

    Raises:
        ValueError: a name listed under two modules.
    """
    exports: dict[str, str] = {}
    for module, names in modules.items():
        for name in names.split():
            if exports.setdefault(name, module) != module:
                raise ValueError(f"{package}: {name!r} is listed under {exports[name]} and {module}")
    return lazy_exports(package, exports, eager)


__all__ = ["lazy_exports", "lazy_modules"]
