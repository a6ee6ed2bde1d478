"""Mouth landmarks of a real speaker's renders: which landmarker, LMD against ``landmarks.npy``, opening r.

On a prepped folder (``landmarks.npy`` from ``pgs prep``, no ``landmarks3d.npy``) LMD needs no
flags: the ground truth is the folder's ``landmarks.npy`` and the rendered frames' landmarks come
from the MediaPipe Face Landmarker that prepped the folder. The model file is looked up in this
order (`resolve_landmarker`):

1. ``--landmarker PATH`` (`EvalOptions.landmarker`);
2. the folder's ``prep.json`` key ``"landmarker"`` (an absolute path written by ``pgs prep``);
3. the environment variable ``PGS_FACE_LANDMARKER``.

A path that is recorded but missing is skipped (and said in the note). Without any (or without
the mediapipe package, for paths not given on the command line) LMD and the mouth-opening
correlation are n/a with a note.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from pgs.core.interfaces import MetricValue
from pgs.core.landmarks import MODEL_ENV
from pgs.core.progress import Progress
from pgs.eval.benchmark import mouth_opening, pearson_r
from pgs.eval.lmd import lmd

#: Environment variable naming a Face Landmarker model file (also read by ``pgs prep``).
LANDMARKER_ENV = MODEL_ENV
#: ``prep.json`` key holding the Face Landmarker path used to prep the folder.
PREP_KEY = "landmarker"
#: LMD protocol prefix (as the ``lmd`` evaluator).
LMD_PROTOCOL = "LMD in pixels, mouth points 48-67 mean-centred, mean over points and {used} frames"
#: Mouth-opening protocol (the landmark source is appended).
OPENING_PROTOCOL = (
    "Pearson r over the held-out frames between the inner-lip opening of the renders and of the ground truth; "
    "opening = mean distance of inner-lip pairs 61-67, 62-66, 63-65 / interocular distance 36-45"
)
#: Note of the real-speaker metrics without a landmark model.
NO_LANDMARKER = (
    "n/a: no Face Landmarker model (no --landmarker, no 'landmarker' in the folder's prep.json, "
    f"no {LANDMARKER_ENV}); pass --landmarker face_landmarker.task"
)



@dataclass(frozen=True)
class LandmarkerChoice:
    """The Face Landmarker model to detect mouth landmarks with.

    Attributes:
        path: the ``face_landmarker.task`` file, or None.
        origin: ``--landmarker``, ``prep.json`` or ``PGS_FACE_LANDMARKER`` ("" when none).
        note: recorded paths that were skipped, or why there is none.
    """

    path: Path | None
    origin: str
    note: str = ""


def _prep_landmarker(folder: Path) -> str | None:
    """The ``landmarker`` value of ``<folder>/prep.json`` (None when absent or unreadable)."""
    try:
        value = json.loads((folder / "prep.json").read_text(encoding="utf-8")).get(PREP_KEY)
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def resolve_landmarker(
    explicit: Path | None, folder: str | Path, environ: Mapping[str, str] | None = None
) -> LandmarkerChoice:
    """Pick the Face Landmarker model: ``--landmarker``, then ``prep.json``, then ``PGS_FACE_LANDMARKER``.

    Args:
        explicit: the command-line path (always used when given).
        folder: the speaker folder (its ``prep.json`` is read).
        environ: environment (default ``os.environ``).
    """
    if explicit is not None:
        return LandmarkerChoice(Path(explicit), "--landmarker")
    env = os.environ if environ is None else environ
    skipped: list[str] = []
    for origin, value in (("prep.json", _prep_landmarker(Path(folder))), (LANDMARKER_ENV, env.get(LANDMARKER_ENV))):
        if not value:
            continue
        if not Path(value).is_file():
            skipped.append(f"{origin} names {value}, which does not exist")
            continue
        if importlib.util.find_spec("mediapipe") is None:
            return LandmarkerChoice(None, "", f"n/a: {origin} names a Face Landmarker but mediapipe is not installed")
        return LandmarkerChoice(Path(value), origin, "; ".join(skipped))
    return LandmarkerChoice(None, "", "; ".join([NO_LANDMARKER, *skipped]))


def detect_mouth_landmarks(
    model: Path, predicted: Tensor, target: Tensor, progress: Progress | None = None
) -> tuple[Tensor, Tensor, str]:
    """MediaPipe landmarks of the renders and of the ground-truth frames.

    Args:
        model: ``face_landmarker.task``.
        predicted: [F, H, W, 3] renders in [0, 1].
        target: [F, H, W, 3] ground truth in [0, 1].
        progress: called with ("landmarks", done, 2F).

    Returns:
        ([F, 68, 2] rendered, [F, 68, 2] ground truth (float64, NaN rows: no face), source description).
    """
    from pgs.eval.landmarks import MediaPipeLandmarks

    count = int(predicted.shape[0])
    out: list[Tensor] = []
    with MediaPipeLandmarks(model) as source:
        for k, frames in enumerate((predicted, target)):
            rows = []
            for i in range(count):
                rows.append(source.detect(frames[i : i + 1]))
                if progress is not None:
                    progress("landmarks", k * count + i + 1, 2 * count)
            out.append(torch.cat(rows))
        description = source.description
    return out[0], out[1], description


@dataclass
class MouthLandmarkScores:
    """LMD and the mouth-opening correlation of a self-driven evaluation.

    Attributes:
        lmd: the LMD metric (value or n/a with a note).
        opening_r: Pearson r of the inner-lip opening (None: n/a).
        opening_protocol: protocol of `opening_r`.
        opening_note: why it is None, or frames left out.
        detector_floor: LMD of the detector on the ground-truth frames against ``landmarks.npy``
            (what a perfect render would score), or None.
        meta: facts for ``metrics.json`` meta ``landmarks``.
    """

    lmd: MetricValue
    opening_r: float | None
    opening_protocol: str
    opening_note: str
    detector_floor: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def not_available(choice: LandmarkerChoice) -> MouthLandmarkScores:
    """LMD and opening r as n/a, with the landmarker note."""
    protocol = "LMD in pixels, mouth points 48-67 mean-centred"
    note = choice.note or NO_LANDMARKER
    return MouthLandmarkScores(MetricValue("LMD", None, False, protocol, note), None, OPENING_PROTOCOL, note)


def real_mouth_scores(
    predicted: Tensor,
    target: Tensor,
    truth: Tensor | None,
    choice: LandmarkerChoice,
    progress: Progress | None = None,
) -> MouthLandmarkScores:
    """LMD and opening r of real frames with MediaPipe (`choice.path` must be set).

    Args:
        predicted: [F, H, W, 3] renders.
        target: [F, H, W, 3] ground truth.
        truth: [F, 68, 2] the folder's ``landmarks.npy`` rows of these frames (LMD target), or None
            (MediaPipe on the ground-truth frames is the target then).
        choice: the landmarker.
        progress: progress callback.
    """
    if choice.path is None:
        return not_available(choice)
    pred, detected, source = detect_mouth_landmarks(choice.path, predicted, target, progress)
    reference = truth.double().cpu() if truth is not None else detected
    value, used = lmd(pred, reference)
    target_text = "the folder's landmarks.npy" if truth is not None else "MediaPipe on the ground-truth frames"
    protocol = (
        f"{LMD_PROTOCOL.format(used=used)}; landmarks: predicted = {source} on the renders, "
        f"target = {target_text}; model from {choice.origin}"
    )
    notes = ["MediaPipe landmarks: not comparable to FAN-based published LMD."]
    count = int(predicted.shape[0])
    if used < count:
        notes.append(f"{count - used} of {count} frames had no face detected and were left out")
    if value is None:
        notes.insert(0, "no frame with landmarks on both sides")
    if choice.note:
        notes.append(choice.note)
    r, r_note = pearson_r(mouth_opening(pred).numpy(), mouth_opening(detected).numpy())
    floor = lmd(detected, reference)[0] if truth is not None else None
    meta = {"predicted": "mediapipe", "target": "landmarks.npy" if truth is not None else "mediapipe",
            "landmarker": str(choice.path), "landmarker_from": choice.origin}
    return MouthLandmarkScores(
        MetricValue("LMD", value, False, protocol, " ".join(notes)),
        r,
        f"{OPENING_PROTOCOL}; landmarks: {source} on both sides",
        r_note,
        floor,
        meta,
    )


def exact_opening(predicted: Tensor, target: Tensor, protocol: str) -> tuple[float | None, str, str]:
    """Opening r from landmarks known on both sides (the synthetic speaker's tracked vs exact).

    Returns:
        (r, protocol, note).
    """
    r, note = pearson_r(mouth_opening(predicted).numpy(), mouth_opening(target).numpy())
    return r, f"{OPENING_PROTOCOL}; landmarks: {protocol}", note


__all__ = [
    "LANDMARKER_ENV",
    "NO_LANDMARKER",
    "OPENING_PROTOCOL",
    "PREP_KEY",
    "LandmarkerChoice",
    "MouthLandmarkScores",
    "Progress",
    "detect_mouth_landmarks",
    "exact_opening",
    "not_available",
    "real_mouth_scores",
    "resolve_landmarker",
]
