"""File input and output of pgs-core.

- `pgs.core.io.atomic`: the one atomic-write helper for files and folders.
- `pgs.core.io.run_folder`: markers, locks and overwrite rules of the folders the toolkit creates.
- `pgs.core.io.ply`: PLY export/import of Gaussians in the standard 3DGS layout.
- `pgs.core.io.audio`: the one audio decoder (soundfile, else PyAV) and resampler (flushed).
- `pgs.core.io.npy`: ``.npy`` reads safe from several threads (`load_npy`).

Names are re-exported lazily (PEP 562), so importing this package imports neither torch nor numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_ply": "pgs.core.io.ply",
    "ply_property_names": "pgs.core.io.ply",
    "save_ply": "pgs.core.io.ply",
    "atomic_path": "pgs.core.io.atomic",
    "atomic_folder": "pgs.core.io.atomic",
    "atomic_write_bytes": "pgs.core.io.atomic",
    "atomic_write_text": "pgs.core.io.atomic",
    "decode_audio": "pgs.core.io.audio",
    "load_audio": "pgs.core.io.audio",
    "resample": "pgs.core.io.audio",
    "write_wav": "pgs.core.io.audio",
    "load_npy": "pgs.core.io.npy",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
