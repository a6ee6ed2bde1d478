"""Lazy re-exports (`pgs.core.lazy`): the compact module -> names form."""

from __future__ import annotations

import sys

import pytest

from pgs.core.lazy import lazy_exports, lazy_modules


def test_lazy_modules_equals_lazy_exports_of_the_same_table() -> None:
    get, listing, names = lazy_modules("pkg", {"json": "dumps loads", "os.path": "join"})
    _, _, expected = lazy_exports("pkg", {"dumps": "json", "loads": "json", "join": "os.path"})
    assert names == expected == ["dumps", "join", "loads"]
    assert listing() == names
    assert get("join") is sys.modules["os.path"].join
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        get("missing")


def test_lazy_modules_rejects_a_name_under_two_modules() -> None:
    with pytest.raises(ValueError, match="'dumps' is listed under json and pickle"):
        lazy_modules("pkg", {"json": "dumps", "pickle": "dumps"})


def test_plugin_packages_export_their_names_lazily() -> None:
    pytest.importorskip("pgs.fusion", reason="needs pgs-fusion installed")
    pytest.importorskip("pgs.density", reason="needs pgs-density installed")
    import pgs.density
    import pgs.fusion

    assert "MGFFusion" in pgs.fusion.__all__ and "PixelAwareStrategy" in dir(pgs.density)
    assert pgs.fusion.MGFFusion.__module__ == "pgs.fusion.mgf"
