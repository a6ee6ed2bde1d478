"""No function in `packages/*/src` is longer than 80 lines, except numba kernels (issue 21).

A function's length runs from its ``def`` line to its last line, docstring and comments
included, decorators not; methods and nested functions are measured like any other function (a
nested function's lines also count towards the function around it). Functions decorated with
``numba.njit``/``njit`` (with or without arguments) are exempt: a compiled kernel cannot call
Python helpers cheaply.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 80


def _is_njit(decorator: ast.expr) -> bool:
    """``@njit``, ``@numba.njit``, ``@njit(...)`` or ``@numba.njit(...)``."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Name):
        return target.id == "njit"
    return (
        isinstance(target, ast.Attribute)
        and target.attr == "njit"
        and isinstance(target.value, ast.Name)
        and target.value.id == "numba"
    )


def long_functions(source: str, max_lines: int = MAX_LINES) -> list[tuple[str, int]]:
    """(name, lines) of every function in `source` longer than `max_lines`, numba kernels excepted."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if any(_is_njit(d) for d in node.decorator_list):
            continue
        assert node.end_lineno is not None
        lines = node.end_lineno - node.lineno + 1
        if lines > max_lines:
            found.append((node.name, lines))
    return found


def _function(name: str, lines: int, decorator: str = "", indent: str = "") -> str:
    """Source of a function of exactly `lines` lines (def line included)."""
    head = f"{indent}{decorator}\n" if decorator else ""
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(lines - 2))
    return f"{head}{indent}def {name}():\n{body}{indent}    return 0\n"


def test_the_scan_measures_def_to_last_line() -> None:
    source = _function("at_limit", 80) + _function("over", 81) + _function("far_over", 200)
    assert long_functions(source) == [("over", 81), ("far_over", 200)]


def test_the_scan_sees_methods_nested_and_async_functions() -> None:
    method = "class A:\n" + _function("method", 81, indent="    ")
    nested = "def outer():\n" + _function("inner", 81, indent="    ")
    coroutine = _function("coroutine", 81).replace("def coroutine", "async def coroutine")
    names = {name for name, _ in long_functions(method + nested + coroutine)}
    assert names == {"method", "outer", "inner", "coroutine"}


def test_the_scan_exempts_numba_kernels_only() -> None:
    exempt = [
        _function("a", 120, "@numba.njit"),
        _function("b", 120, "@numba.njit(cache=True, parallel=True)"),
        _function("c", 120, "@njit"),
        _function("d", 120, "@njit(nogil=True)"),
    ]
    assert long_functions("".join(exempt)) == []
    checked = [
        _function("e", 120, "@functools.cache"),
        _function("f", 120, "@other.njit"),
        _function("g", 120, "@torch.no_grad()"),
    ]
    assert [name for name, _ in long_functions("".join(checked))] == ["e", "f", "g"]


def test_no_function_over_80_lines() -> None:
    sources = sorted((ROOT / "packages").glob("*/src/**/*.py"))
    assert sources, "no package sources found"
    offenders = []
    for path in sources:
        where = path.relative_to(ROOT / "packages").as_posix()
        for name, lines in long_functions(path.read_text(encoding="utf-8")):
            offenders.append(f"{where}::{name} ({lines} lines)")
    assert offenders == [], f"functions over {MAX_LINES} lines (split them): {offenders}"
