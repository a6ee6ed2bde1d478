"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``, versioned.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (no pickled classes),
so it loads with the safe unpickler. `FORMAT_VERSION` is stored in it; a file from a newer
format, a truncated file or a file that is not a checkpoint is a `DataError` naming the file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from pgs.core.errors import DataError

FORMAT_VERSION = 1
MAGIC = "pgs-checkpoint"


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> Path:
    """Write `payload` to `path` atomically (temporary file in the same folder, then rename).

    Args:
        payload: plain data (tensors, numbers, strings, lists, dicts).
        path: destination file.

    Returns:
        The destination path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"magic": MAGIC, "format_version": FORMAT_VERSION, **payload}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(data, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`.

    Raises:
        DataError: missing file, truncated or corrupt file, not a pgs checkpoint, or a newer
            format version than this toolkit reads.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: checkpoint file not found")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises several types for truncated/corrupt archives
        raise DataError(
            f"{path}: not a readable checkpoint (truncated or corrupt?): {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(data, dict) or data.get("magic") != MAGIC:
        raise DataError(f"{path}: not a pgs checkpoint")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise DataError(
            f"{path}: checkpoint format version {version} is newer than this toolkit reads ({FORMAT_VERSION}); "
            "upgrade pgs-core"
        )
    return data
