"""Checkpoint files: atomic writes, safe loading, clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pgs.core.errors import DataError
from pgs.core.training import checkpoint
from pgs.core.training.checkpoint import load_checkpoint, save_checkpoint


def test_round_trip_and_no_temp_files(tmp_path: Path) -> None:
    payload = {"step": 7, "weights": {"a": torch.arange(5.0)}, "config": {"seed": 1, "name": "x"}}
    path = save_checkpoint(payload, tmp_path / "ckpt" / "last.pt")
    data = load_checkpoint(path)
    assert data["step"] == 7 and data["config"] == {"seed": 1, "name": "x"}
    assert torch.equal(data["weights"]["a"], torch.arange(5.0))
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]


def test_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    path = save_checkpoint({"weights": torch.randn(1000)}, tmp_path / "c.pt")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"c\.pt: not a readable checkpoint"):
        load_checkpoint(path)


def test_newer_format_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", checkpoint.FORMAT_VERSION + 1)
    path = save_checkpoint({}, tmp_path / "new.pt")
    monkeypatch.undo()
    with pytest.raises(DataError, match="newer than this toolkit reads"):
        load_checkpoint(path)


def test_other_files_are_refused(tmp_path: Path) -> None:
    torch.save({"hello": 1}, tmp_path / "other.pt")
    with pytest.raises(DataError, match="not a pgs checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(DataError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_failed_write_keeps_previous_file(tmp_path: Path) -> None:
    path = save_checkpoint({"v": 1}, tmp_path / "keep.pt")

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError):
        save_checkpoint({"v": Unpicklable()}, path)
    assert load_checkpoint(path)["v"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["keep.pt"]
