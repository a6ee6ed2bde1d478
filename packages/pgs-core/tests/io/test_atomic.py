"""The one atomic-write helper: complete files only, the umask's permissions, no temp file left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import pgs.core.io.atomic as atomic


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_files_get_the_umask_permissions(tmp_path: Path, mask: int) -> None:
    previous = os.umask(mask)
    try:
        assert atomic.current_umask() == mask
        path = atomic.atomic_write_text(tmp_path / "report.json", "{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert path.read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "table.md"
    path.write_text("old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic.atomic_write_bytes(path, b"new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["table.md"]
