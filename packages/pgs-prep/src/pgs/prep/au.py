"""Facial action units approximated from MediaPipe blendshapes, written as an OpenFace ``au.csv``.

OpenFace 2.x regresses AU intensities on a 0-5 scale; MediaPipe's Face Landmarker gives 52 ARKit-
style blendshape scores in [0, 1]. Each AU below is a fixed combination of blendshapes (the mean
of the left/right pair where the blendshape is sided), clipped to [0, 1] and multiplied by 5, so
a fully expressed blendshape reads as OpenFace's maximum intensity. The table is repeated in the
package README.

TalkingGaussian reads AU01, AU04, AU05, AU06, AU07 and AU45 (``clip(AU45, 0, 2) / 2`` as the
blink) and AU25 for its mouth curriculum; ER-NeRF and GaussianTalker read AU45 only.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

#: MediaPipe Face Landmarker blendshape names, in the order the model returns them.
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
    "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
    "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
    "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower",
    "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthUpperUpLeft", "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight",
)
NUM_BLENDSHAPES = len(BLENDSHAPE_NAMES)
_INDEX = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}

#: OpenFace's maximum AU intensity.
AU_MAX = 5.0

#: AU -> (blendshape names averaged, blendshape names subtracted). The AU reads
#: ``5 * clip(mean(plus) - mean(minus), 0, 1)`` (minus empty: nothing subtracted).
AU_FROM_BLENDSHAPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "AU01": (("browInnerUp",), ()),  # inner brow raiser
    "AU02": (("browOuterUpLeft", "browOuterUpRight"), ()),  # outer brow raiser
    "AU04": (("browDownLeft", "browDownRight"), ()),  # brow lowerer
    "AU05": (("eyeWideLeft", "eyeWideRight"), ()),  # upper lid raiser
    "AU06": (("cheekSquintLeft", "cheekSquintRight"), ()),  # cheek raiser
    "AU07": (("eyeSquintLeft", "eyeSquintRight"), ()),  # lid tightener
    "AU09": (("noseSneerLeft", "noseSneerRight"), ()),  # nose wrinkler
    "AU10": (("mouthUpperUpLeft", "mouthUpperUpRight"), ()),  # upper lip raiser
    "AU12": (("mouthSmileLeft", "mouthSmileRight"), ()),  # lip corner puller
    "AU14": (("mouthDimpleLeft", "mouthDimpleRight"), ()),  # dimpler
    "AU15": (("mouthFrownLeft", "mouthFrownRight"), ()),  # lip corner depressor
    "AU17": (("mouthShrugLower",), ()),  # chin raiser
    "AU20": (("mouthStretchLeft", "mouthStretchRight"), ()),  # lip stretcher
    "AU23": (("mouthPressLeft", "mouthPressRight"), ()),  # lip tightener
    "AU25": (("jawOpen",), ("mouthClose",)),  # lips part: jaw open unless the lips stay closed
    "AU26": (("jawOpen",), ()),  # jaw drop
    "AU45": (("eyeBlinkLeft", "eyeBlinkRight"), ()),  # blink
}
#: AU names in OpenFace's column order.
AU_NAMES: tuple[str, ...] = tuple(AU_FROM_BLENDSHAPES)


def _mean_of(blendshapes: np.ndarray, names: Sequence[str]) -> np.ndarray:
    if not names:
        return np.zeros(blendshapes.shape[0], dtype=np.float64)
    return blendshapes[:, [_INDEX[n] for n in names]].astype(np.float64).mean(axis=1)


def blendshapes_to_aus(blendshapes: np.ndarray) -> np.ndarray:
    """AU intensities from blendshape scores.

    Args:
        blendshapes: [F, 52] scores in MediaPipe's `BLENDSHAPE_NAMES` order.

    Returns:
        [F, len(AU_NAMES)] float64 intensities in [0, 5], columns in `AU_NAMES` order.
    """
    bs = np.asarray(blendshapes)
    if bs.ndim != 2 or bs.shape[1] != NUM_BLENDSHAPES:
        raise ValueError(f"blendshapes must be [frames, {NUM_BLENDSHAPES}], got {list(bs.shape)}")
    cols = []
    for plus, minus in AU_FROM_BLENDSHAPES.values():
        value = _mean_of(bs, plus) - _mean_of(bs, minus)
        cols.append(AU_MAX * np.clip(value, 0.0, 1.0))
    return np.stack(cols, axis=1)


def au_csv_text(aus: np.ndarray, fps: float, confidence: np.ndarray | None = None) -> str:
    """OpenFace FeatureExtraction CSV text.

    Columns: ``frame, face_id, timestamp, confidence, success, AU01_r ... AU45_r, AU01_c ... AU45_c``.
    OpenFace separates fields with ``", "``, so pandas reads the column names with a leading
    space (``' AU45_r'``) as ER-NeRF's loader expects; loaders that strip names read them too.

    Args:
        aus: [F, len(AU_NAMES)] intensities (0-5).
        fps: frame rate for the timestamp column.
        confidence: [F] per-frame confidence in [0, 1] (default 1).
    """
    f = aus.shape[0]
    conf = np.ones(f) if confidence is None else np.asarray(confidence, dtype=np.float64)
    header = ["frame", "face_id", "timestamp", "confidence", "success"]
    header += [f"{n}_r" for n in AU_NAMES] + [f"{n}_c" for n in AU_NAMES]
    buf = io.StringIO()
    buf.write(", ".join(header) + "\n")
    for i in range(f):
        row = [str(i + 1), "0", f"{i / fps:.3f}", f"{conf[i]:.2f}", "1"]
        row += [f"{v:.2f}" for v in aus[i]]
        # OpenFace's presence flag: we call an AU present from intensity 1 (of 5) on.
        row += ["1.00" if v >= 1.0 else "0.00" for v in aus[i]]
        buf.write(", ".join(row) + "\n")
    return buf.getvalue()


def write_au_csv(
    path: str | os.PathLike[str], aus: np.ndarray, fps: float, confidence: np.ndarray | None = None
) -> None:
    """Write `au_csv_text` to `path`."""
    Path(path).write_text(au_csv_text(aus, fps, confidence), encoding="utf-8")


__all__ = [
    "AU_FROM_BLENDSHAPES",
    "AU_MAX",
    "AU_NAMES",
    "BLENDSHAPE_NAMES",
    "NUM_BLENDSHAPES",
    "au_csv_text",
    "blendshapes_to_aus",
    "write_au_csv",
]
