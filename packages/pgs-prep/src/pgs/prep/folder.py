"""Atomic output folder: everything is written into a hidden temporary sibling, then renamed.

A failure (bad input found late, an exception, Ctrl-C) removes the temporary folder, so no
half-written folder that looks complete is ever left at the output path.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import TracebackType

from pgs.core.errors import DataError


class AtomicFolder:
    """Context manager yielding a temporary folder that becomes `target` on success.

    Args:
        target: the final folder.
        overwrite: replace an existing `target` (it is removed only after the new one is complete).

    Raises:
        DataError: `target` exists (and `overwrite` is False) or is a file.
    """

    def __init__(self, target: str | os.PathLike[str], overwrite: bool = False) -> None:
        self.target = Path(target)
        self.overwrite = overwrite
        if self.target.exists() and (not self.target.is_dir() or not overwrite):
            what = "is a file" if not self.target.is_dir() else "already exists (pass --overwrite to replace it)"
            raise DataError(f"{self.target}: output folder {what}")
        self.tmp = self.target.parent / f".{self.target.name}.partial-{os.getpid()}"

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir()
        return self.tmp

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        old = None
        if self.target.exists():
            old = self.target.parent / f".{self.target.name}.old-{os.getpid()}"
            self.target.rename(old)
        os.replace(self.tmp, self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


__all__ = ["AtomicFolder"]
