"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``, versioned.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (no pickled classes),
so it loads with the safe unpickler. `FORMAT_VERSION` is stored in it; a file from a newer
format, a truncated file or a file that is not a checkpoint is a `DataError` naming the file.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from pgs.core.errors import DataError
from pgs.core.io.atomic import atomic_path

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
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    return path


def read_archive(path: str | Path, map_location: str | torch.device = "cpu", what: str = "checkpoint") -> Any:
    """`torch.load` with the safe unpickler, every failure as one `DataError` line naming `path`.

    The one reader of the toolkit's ``torch.save`` archives (checkpoints and avatar files).

    Args:
        path: the file.
        map_location: where tensors are loaded.
        what: the kind of file, for messages (``checkpoint``, ``checkpoint or avatar``).

    Raises:
        DataError: missing, truncated or corrupt file, or one holding pickled Python objects.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} file not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights_only" in str(exc) or "Unsupported global" in str(exc):
            raise DataError(
                f"{path}: refused to load: the file holds pickled Python objects, which a pgs {what} never "
                "does (it may try to run code); use one written by pgs"
            ) from None
        raise DataError(f"{path}: not a readable {what} (truncated or corrupt)") from None
    except Exception:  # torch raises several types for truncated/corrupt archives
        raise DataError(f"{path}: not a readable {what} (truncated or corrupt)") from None


def checked_checkpoint(data: Any, path: str | Path) -> dict[str, Any]:
    """`data` read from `path` if it is a pgs checkpoint this toolkit reads.

    Raises:
        DataError: not a pgs checkpoint, or a newer format version than this toolkit reads.
    """
    if not isinstance(data, dict) or data.get("magic") != MAGIC:
        raise DataError(f"{path}: not a pgs checkpoint")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise DataError(
            f"{path}: checkpoint format version {version} is newer than this toolkit reads ({FORMAT_VERSION}); "
            "upgrade pgs-core"
        )
    return data


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by `save_checkpoint`.

    Raises:
        DataError: missing file, truncated or corrupt file, not a pgs checkpoint, or a newer
            format version than this toolkit reads.
    """
    return checked_checkpoint(read_archive(path, map_location), path)


def load_module_state(module: torch.nn.Module, state: dict[str, Any], path: str | Path) -> None:
    """`module.load_state_dict(state)`, with a mismatch reported as one `DataError` line.

    Raises:
        DataError: the checkpoint's weights do not fit the model its config builds (edited config,
            another toolkit version, or a checkpoint of a different model).
    """
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, ValueError) as exc:
        first = str(exc).strip().splitlines()
        detail = next((line.strip() for line in first[1:] if line.strip()), first[0] if first else "")
        raise DataError(
            f"{path}: the weights do not match the model its config describes ({detail[:160]}); "
            "use the config the checkpoint was trained with"
        ) from None

