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

import os
from collections.abc import Sequence

import numpy as np

from pgs.core.data import au as core_au

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


#: Intensity (of 5) from which an AU is written as present (its ``_c`` column is 1).
PRESENT_FROM = 1.0


def au_columns(aus: np.ndarray) -> dict[str, np.ndarray]:
    """OpenFace intensity columns ``AU01_r`` ... ``AU45_r`` of [F, len(AU_NAMES)] intensities."""
    return {f"{name}_r": aus[:, j] for j, name in enumerate(AU_NAMES)}


def write_au_csv(
    path: str | os.PathLike[str], aus: np.ndarray, fps: float, confidence: np.ndarray | None = None
) -> None:
    """Write an OpenFace ``au.csv`` with `pgs.core.data.au.write_au_csv` (``", "`` separators).

    Columns: ``frame, face_id, timestamp, confidence, success, AU01_r ... AU45_r, AU01_c ... AU45_c``.

    Args:
        path: output file.
        aus: [F, len(AU_NAMES)] intensities (0-5).
        fps: frame rate for the timestamp column.
        confidence: [F] per-frame confidence in [0, 1] (default 1).
    """
    conf = np.ones(aus.shape[0]) if confidence is None else np.asarray(confidence, dtype=np.float64)
    core_au.write_au_csv(path, au_columns(aus), fps, confidence=conf, presence_from=PRESENT_FROM)


__all__ = [
    "AU_FROM_BLENDSHAPES",
    "AU_MAX",
    "AU_NAMES",
    "BLENDSHAPE_NAMES",
    "NUM_BLENDSHAPES",
    "PRESENT_FROM",
    "au_columns",
    "blendshapes_to_aus",
    "write_au_csv",
]
