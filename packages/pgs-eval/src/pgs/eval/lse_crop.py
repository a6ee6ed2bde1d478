"""Face boxes for syncnet_python's LSE crop (``pgs eval --lse-crop face``, the default).

syncnet_python crops each frame around the tracked face box before SyncNet
(``pgs.eval.syncnet.pipeline``, crop ``face-box``). Our face box is the box of 68 landmarks of
the rendered frame: the landmarks already known for the renders (the synthetic speaker's
landmarks tracked through the model), else MediaPipe's Face Landmarker on the renders (the
landmarker of ``--landmarker``, the folder's ``prep.json`` or ``PGS_FACE_LANDMARKER``). ``--lse-crop
frame`` resizes the whole frame to 224 (Wav2Lip's score scripts) and needs no landmarks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from torch import Tensor

from pgs.core.errors import DataError
from pgs.eval.speaker_landmarks import resolve_landmarker

LseCrop = Literal["face", "frame"]

#: The ``lse`` evaluator's crop for each ``--lse-crop`` value.
EVALUATOR_CROP: dict[str, str] = {"face": "face-box", "frame": "resize"}


def face_box_landmarks(predicted: Tensor, known: Tensor | None, landmarker: Path | None, folder: Path | str) -> Tensor:
    """Landmarks whose per-frame box places syncnet_python's face crop.

    Args:
        predicted: [F, H, W, 3] renders in [0, 1].
        known: [F, 68, 2] landmarks of the renders already computed (tracked), or None.
        landmarker: ``--landmarker`` (None: the folder's prep.json, then PGS_FACE_LANDMARKER).
        folder: the speaker folder (its prep.json names the landmarker).

    Returns:
        [F, 68, 2] pixel landmarks (NaN rows where MediaPipe found no face).

    Raises:
        DataError: no landmarker and no known landmarks.
    """
    if known is not None:
        return known
    choice = resolve_landmarker(landmarker, folder)
    if choice.path is None:
        raise DataError(
            "--lse-crop face: syncnet_python's crop needs face boxes from MediaPipe; pass --landmarker "
            "face_landmarker.task (or use --lse-crop frame for the whole frame resized to 224)"
        )
    from pgs.eval.landmarks import MediaPipeLandmarks

    with MediaPipeLandmarks(choice.path) as source:
        return source.detect(predicted)


__all__ = ["EVALUATOR_CROP", "LseCrop", "face_box_landmarks"]
