"""Tests that read the real material in ``<repo>/../shared/data`` (never committed; see its README)."""

from __future__ import annotations

from pathlib import Path


def need(path: Path) -> Path:
    """`path`, or skip the calling test (with the reason) when that shared test file is absent."""
    import pytest

    if not path.is_file():
        pytest.skip(f"shared test file {path} is absent (real data lives in <repo>/../shared/data, see its README)")
    return path


__all__ = ["need"]
