"""Saving and loading per-frame features as ``.npy`` in the ER-NeRF / TalkingGaussian layouts.

The published layouts are recognised from the array shape alone:

======================  =============  ==========================================================
layout                  shape          file name in a processed-speaker folder
======================  =============  ==========================================================
``deepspeech``          [N, 16, 29]    ``aud_ds.npy`` (``aud.npy`` as written by the extractor)
``hubert``              [N, 2, 1024]   ``aud_hu.npy``
``wav2vec``             [N, 16, 44]    ``aud_eo.npy``
======================  =============  ==========================================================

`save_features` writes the array ``[F, steps, C]`` float32 exactly as ER-NeRF does (so its
loaders read our files) plus a small sidecar ``<file>.json`` with layout, encoder and fps, which
lets `load_features` restore features of any layout (``mel80``, ``mfcc``, ...). Both files are
written to a temporary name and renamed, so nothing half-written is left.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from pgs.core.data.layouts import KNOWN_LAYOUTS, LAYOUT_FILES, PUBLISHED_FPS
from pgs.core.errors import DataError
from pgs.core.interfaces import AudioFeatures


def _describe_known() -> str:
    return ", ".join(f"{name} [N, {s}, {c}]" for name, (s, c) in KNOWN_LAYOUTS.items())


def detect_layout(shape: tuple[int, ...], source: str) -> str:
    """Name the published layout of an array shape.

    Raises:
        DataError: the shape matches none of them (with a hint when it is a transposed one).
    """
    if len(shape) == 3:
        for name, (steps, channels) in KNOWN_LAYOUTS.items():
            if tuple(shape[1:]) == (steps, channels):
                return name
        for name, (steps, channels) in KNOWN_LAYOUTS.items():
            if tuple(shape[1:]) == (channels, steps):
                raise DataError(
                    f"{source}: features of shape {list(shape)} look like the {name} layout transposed "
                    f"([N, {channels}, {steps}], as models permute them after loading); save them as "
                    f"[N, {steps}, {channels}]"
                )
    raise DataError(
        f"{source}: features of shape {list(shape)} are not a known layout; expected one of {_describe_known()}"
    )


def sidecar_path(path: Path) -> Path:
    """The metadata file written beside a features file: ``<file>.json``."""
    return path.with_name(path.name + ".json")


def _read_sidecar(path: Path) -> dict[str, object] | None:
    meta_path = sidecar_path(path)
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{meta_path}: unreadable feature metadata ({exc}); delete it to detect from shape") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("layout"), str):
        raise DataError(f"{meta_path}: feature metadata must be an object with a 'layout' string")
    return meta


def load_array(path: str | Path) -> np.ndarray:
    """Read a ``.npy`` array without pickles, with clear errors.

    Raises:
        DataError: missing, empty, not a ``.npy`` file, not floating point, or not finite.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: " + ("file not found" if not path.exists() else "not a file"))
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes)")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise DataError(f"{path}: expected one .npy array, got {type(array).__name__} (an .npz archive?)")
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(f"{path}: features must be floating point, got dtype {array.dtype}")
    if array.ndim >= 1 and array.shape[0] == 0:
        raise DataError(f"{path}: the features hold no frames (shape {list(array.shape)})")
    if not np.isfinite(array).all():
        bad = int(np.argwhere(~np.isfinite(array.reshape(array.shape[0], -1)))[0, 0]) if array.ndim else 0
        raise DataError(f"{path}: the features contain NaN or infinite values (first in frame {bad})")
    return array


def load_features(path: str | Path, layout: str | None = None, fps: float | None = None) -> AudioFeatures:
    """Load per-frame features written by `save_features` or by ER-NeRF / TalkingGaussian tools.

    Args:
        path: the ``.npy`` file.
        layout: expected layout name; a different one is an error naming both. None: from the
            sidecar, else detected from the shape (published layouts only).
        fps: frame rate to record; None: the sidecar's, else 25 (the published layouts' rate).

    Returns:
        `AudioFeatures` with ``encoder="npy"`` and the file as source.

    Raises:
        DataError: unreadable file, unknown layout, or not the expected layout.
    """
    path = Path(path)
    array = load_array(path)
    meta = _read_sidecar(path)
    if meta is not None:
        found = str(meta["layout"])
        if array.ndim != 3:
            raise DataError(f"{path}: features must be [frames, steps, channels], got {list(array.shape)}")
        known = KNOWN_LAYOUTS.get(found)
        if known is not None and tuple(array.shape[1:]) != known:
            raise DataError(f"{path}: metadata says {found} {list(known)} per frame, array is {list(array.shape)}")
        file_fps = float(meta.get("fps", PUBLISHED_FPS))  # type: ignore[arg-type]
    else:
        found = detect_layout(tuple(array.shape), str(path))
        file_fps = PUBLISHED_FPS
    if layout is not None and layout != "auto" and layout != found:
        expected = KNOWN_LAYOUTS.get(layout)
        want = f"{layout} [N, {expected[0]}, {expected[1]}]" if expected else layout
        raise DataError(
            f"{path}: these are {found} features {list(array.shape)}, but {want} features were expected "
            "(the model was trained with another audio extractor)"
        )
    tensor = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    return AudioFeatures(tensor, fps if fps is not None else file_fps, "npy", found, str(path))


def _atomic_write(path: Path, write: object) -> None:
    """Write through a temporary file in the same folder, then rename over `path`."""
    from pgs.core.io.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        write(handle)  # type: ignore[operator]


def save_features(features: AudioFeatures, path: str | Path) -> Path:
    """Write features as ``.npy`` ``[F, steps, C]`` float32 (ER-NeRF layout) plus ``<file>.json``.

    Returns:
        The path written.
    """
    path = Path(path)
    if path.suffix != ".npy":
        raise ValueError(f"{path}: features are saved as .npy; use a name ending in .npy")
    array = features.features.detach().to("cpu", torch.float32).numpy()
    meta = {"layout": features.layout, "encoder": features.encoder, "fps": features.fps, "source": features.source}
    _atomic_write(path, lambda handle: np.save(handle, array, allow_pickle=False))
    _atomic_write(sidecar_path(path), lambda handle: handle.write(json.dumps(meta, indent=1).encode()))
    return path


# short public aliases (pgs.audio.save / pgs.audio.load)
save = save_features
load = load_features

__all__ = [
    "KNOWN_LAYOUTS",
    "LAYOUT_FILES",
    "PUBLISHED_FPS",
    "detect_layout",
    "load",
    "load_array",
    "load_features",
    "save",
    "save_features",
    "sidecar_path",
]
