"""Reading ``.npy`` files from several threads at once.

``np.load`` parses each file's header with ``ast.literal_eval``. CPython 3.11 (seen with 3.11.7,
this project's interpreter; CPython issue gh-106905, fixed in later releases) can raise
``SystemError: AST constructor recursion depth mismatch`` when two threads build ASTs at the
same time: the training frame prefetcher's worker thread and the main thread both read
per-frame masks. `load_npy` takes one process-wide lock
around the read; the reads are small, so the lock costs nothing measurable.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

_NPY_LOCK = threading.Lock()


def load_npy(path: str | Path, **kwargs: Any) -> np.ndarray:
    """``np.load(path, allow_pickle=False, **kwargs)`` under the process-wide ``.npy`` lock.

    Raises:
        OSError, ValueError: as ``np.load``.
    """
    with _NPY_LOCK:
        return np.load(path, allow_pickle=False, **kwargs)


__all__ = ["load_npy"]
