"""Image reading and writing for dataset folders (Pillow), with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pgs.core.errors import DataError
from pgs.core.io.atomic import atomic_path


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header (cheap: no pixel data is decoded).

    Raises:
        DataError: missing or unreadable file.
    """
    try:
        with Image.open(path) as img:
            return img.size
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable image ({exc})") from None


def read_image(path: Path, mode: str = "RGB") -> np.ndarray:
    """Decode an image.

    Args:
        path: image file.
        mode: PIL mode to convert to (``"RGB"``, ``"RGBA"``, ``"L"``).

    Returns:
        [H, W, channels] (or [H, W] for ``"L"``) uint8 array.

    Raises:
        DataError: missing, unreadable or truncated file.
    """
    try:
        with Image.open(path) as img:
            img.load()
            if mode == "RGBA" and img.mode not in ("RGBA", "LA", "PA") and "transparency" not in img.info:
                raise DataError(f"{path}: expected an image with an alpha channel (RGBA), got mode {img.mode}")
            return np.array(img.convert(mode))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: unreadable image ({exc})") from None


def write_image(path: Path, array: np.ndarray, quality: int = 95, atomic: bool = True) -> None:
    """Write a uint8 image (format from the suffix; JPEG quality `quality`).

    With `atomic`, through a temp file renamed into place (no half-written image on failure).
    """
    img = Image.fromarray(np.ascontiguousarray(array))
    if not atomic:
        img.save(path, quality=quality) if path.suffix.lower() in (".jpg", ".jpeg") else img.save(path)
        return
    with atomic_path(path) as tmp:
        if path.suffix.lower() in (".jpg", ".jpeg"):
            img.save(tmp, quality=quality)
        else:
            img.save(tmp)


__all__ = ["image_size", "read_image", "write_image"]
