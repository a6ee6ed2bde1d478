"""Saving matplotlib figures atomically (readers never see a half-written image)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pgs.core.io.atomic import atomic_path


def write_figure(fig: Any, path: str | Path, dpi: int = 100) -> Path:
    """Write `fig` to `path` (format from the suffix) through `atomic_path`, then close it.

    Args:
        fig: a matplotlib ``Figure``.
        path: destination; missing folders are created.
        dpi: resolution.

    Returns:
        `path`.
    """
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi)
    finally:
        plt.close(fig)
    return path


__all__ = ["write_figure"]
