"""Landmark sources for LMD: a small registry of detectors giving 68-point iBUG landmarks.

Sources (`landmark_source(name, ...)`):

- ``exact``: landmarks supplied with the frames (the synthetic speaker's exact landmarks); no
  detection.
- ``mediapipe``: MediaPipe Face Landmarker (`pgs.core.landmarks`, a ``face_landmarker.task`` model
  file or ``$PGS_FACE_LANDMARKER``), 478 points mapped to the 68-point layout with
  `pgs.core.landmarks68.MEDIAPIPE_TO_IBUG68`.
- ``fan``: face-alignment's 2D FAN with its S3FD detector, the detector AD-NeRF, ER-NeRF and
  TalkingGaussian report LMD with (``pip install face-alignment``; it fetches its weights on first
  use, so run it once where there is network access).

Detectors disagree by as much as published LMD differences: compute predicted and ground-truth
landmarks with the same source, and report which one. A frame where no face is found gets NaN
landmarks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from pgs.core.errors import ConfigError, DataError, PluginError
from pgs.core.landmarks import MODEL_URL
from pgs.core.landmarks68 import MEDIAPIPE_NUM_LANDMARKS, MEDIAPIPE_TO_IBUG68
from pgs.eval.errors import MissingWeightsError
from pgs.eval.regions import check_frames, check_landmarks

#: Where to get the MediaPipe Face Landmarker model (never downloaded at run time).
FACE_LANDMARKER_URL = MODEL_URL


def frames_to_uint8(frames: Tensor) -> np.ndarray:
    """[F, H, W, 3] floats in [0, 1] -> [F, H, W, 3] uint8 RGB as the detectors read them ((x * 255) truncated)."""
    return (frames.detach().float().clamp(0, 1) * 255.0).to(torch.uint8).cpu().numpy()


class LandmarkSource(ABC):
    """Gives 68-point iBUG landmarks in pixels for frames.

    Attributes:
        name: registry name of the source.
        description: what the landmarks are, for report protocol lines.
    """

    name: str
    description: str

    @abstractmethod
    def detect(self, frames: Tensor, known: Tensor | None = None) -> Tensor:
        """Landmarks of `frames`.

        Args:
            frames: [F, H, W, 3] RGB in [0, 1].
            known: [F, 68, 2] landmarks supplied with the frames, if any (used by ``exact``).

        Returns:
            [F, 68, 2] float64 (x, y) pixel coordinates; NaN rows for frames without a face.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release detector resources."""

    def __enter__(self) -> LandmarkSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ExactLandmarks(LandmarkSource):
    """Landmarks that come with the frames (e.g. the synthetic speaker's exact ones)."""

    name = "exact"
    description = "exact landmarks supplied with the frames (no detector)"

    def detect(self, frames: Tensor, known: Tensor | None = None) -> Tensor:
        """Return `known` (checked against `frames`)."""
        if known is None:
            raise DataError(
                "landmark source 'exact' needs landmarks supplied with the frames (predicted_landmarks and "
                "target_landmarks); use the 'mediapipe' or 'fan' source to detect them instead"
            )
        check_landmarks(known, int(frames.shape[0]), "landmarks")
        return known.detach().double().cpu()


class MediaPipeLandmarks(LandmarkSource):
    """MediaPipe Face Landmarker (`pgs.core.landmarks`, IMAGE mode), 478 points mapped to iBUG-68.

    Args:
        model_path: the ``face_landmarker.task`` model bundle (None: ``$PGS_FACE_LANDMARKER``).
        min_confidence: minimum face detection / presence confidence.

    Raises:
        MissingWeightsError: no model given (nor in the environment), or the file is missing.
        PluginError: mediapipe is not installed.
    """

    name = "mediapipe"

    def __init__(self, model_path: str | Path | None = None, min_confidence: float = 0.5) -> None:
        from pgs.core.landmarks import FaceLandmarker

        self._landmarker = FaceLandmarker(
            model_path, video=False, min_confidence=min_confidence, blendshapes=False, matrices=False
        )
        self.model_path = self._landmarker.model_path
        self.description = f"MediaPipe Face Landmarker ({self.model_path.name}) 478 points mapped to iBUG-68"

    def detect_mesh(self, frames: Tensor) -> Tensor:
        """All 478 Face Landmarker points.

        Args:
            frames: [F, H, W, 3] RGB in [0, 1].

        Returns:
            [F, 478, 2] float64 pixel coordinates (x, y); NaN rows for frames without a face.
        """
        check_frames(frames, "frames")
        images = frames_to_uint8(frames)
        height, width = images.shape[1:3]
        out = torch.full((images.shape[0], MEDIAPIPE_NUM_LANDMARKS, 2), float("nan"), dtype=torch.float64)
        for f, image in enumerate(images):
            found = self._landmarker.detect(image)
            if found is not None:
                out[f] = torch.from_numpy(found.pixels(width, height))
        return out

    def detect(self, frames: Tensor, known: Tensor | None = None) -> Tensor:
        """[F, 68, 2] landmarks mapped from the mesh (`known` is ignored)."""
        return self.detect_mesh(frames)[:, list(MEDIAPIPE_TO_IBUG68)]

    def close(self) -> None:
        """Close the landmarker (avoids a noisy error from its finaliser at exit)."""
        landmarker = getattr(self, "_landmarker", None)
        if landmarker is not None:
            landmarker.close()


class FanLandmarks(LandmarkSource):
    """face-alignment's 2D FAN (2DFAN4 with S3FD), the papers' detector; the last detected face is kept.

    Args:
        device: torch device for FAN ('cpu', 'cuda').
    """

    name = "fan"
    description = "face-alignment 2D FAN (2DFAN4 + S3FD), last detected face, as AD-NeRF/ER-NeRF/TalkingGaussian"

    def __init__(self, device: str = "cpu") -> None:
        try:
            import face_alignment
        except ImportError:
            raise PluginError(
                "landmark source 'fan' needs the face-alignment package: pip install face-alignment "
                "(it downloads its 2DFAN4 and S3FD weights into the torch hub cache on first use, so run it once "
                "with network access); offline, use the 'mediapipe' source"
            ) from None
        kind = getattr(face_alignment.LandmarksType, "TWO_D", None) or face_alignment.LandmarksType._2D
        try:
            self._fan = face_alignment.FaceAlignment(kind, flip_input=False, device=device)
        except Exception as exc:  # typically: weights cannot be downloaded
            raise MissingWeightsError(
                f"face-alignment FAN could not be created ({exc}); its weights (2DFAN4, s3fd) must be in the torch "
                "hub cache: run face_alignment.FaceAlignment once on a machine with network access and copy "
                "<torch hub dir>/checkpoints/ here"
            ) from None

    def detect(self, frames: Tensor, known: Tensor | None = None) -> Tensor:
        """[F, 68, 2] FAN landmarks (`known` is ignored)."""
        check_frames(frames, "frames")
        images = frames_to_uint8(frames)
        out = torch.full((images.shape[0], 68, 2), float("nan"), dtype=torch.float64)
        for f, image in enumerate(images):
            found = self._fan.get_landmarks(image)
            if found:
                out[f] = torch.as_tensor(np.asarray(found[-1])[:, :2], dtype=torch.float64)
        return out


LandmarkFactory = Callable[..., LandmarkSource]

_SOURCES: dict[str, LandmarkFactory] = {
    "exact": lambda **_: ExactLandmarks(),
    "mediapipe": lambda model_path=None, min_confidence=0.5, **_: MediaPipeLandmarks(model_path, min_confidence),
    "fan": lambda device="cpu", **_: FanLandmarks(device),
}


def landmark_source_names() -> list[str]:
    """Names of the registered landmark sources."""
    return sorted(_SOURCES)


def register_landmark_source(name: str, factory: LandmarkFactory, replace: bool = False) -> None:
    """Register a landmark source factory (keyword options in, `LandmarkSource` out).

    Raises:
        ConfigError: the name is taken and `replace` is False.
    """
    if name in _SOURCES and not replace:
        raise ConfigError(f"landmark source {name!r} is already registered; pass replace=True to override it")
    _SOURCES[name] = factory


def landmark_source(name: str, **options: Any) -> LandmarkSource:
    """Create a landmark source by name.

    Args:
        name: ``exact``, ``mediapipe``, ``fan`` or a registered name.
        **options: source options (``model_path`` for mediapipe, ``device`` for fan).

    Raises:
        ConfigError: unknown name (lists the known ones).
        MissingWeightsError: the detector's model file is missing.
    """
    if name not in _SOURCES:
        raise ConfigError(f"source: unknown landmark source {name!r}; known: {', '.join(landmark_source_names())}")
    return _SOURCES[name](**options)


__all__ = [
    "FACE_LANDMARKER_URL",
    "ExactLandmarks",
    "FanLandmarks",
    "LandmarkSource",
    "MediaPipeLandmarks",
    "frames_to_uint8",
    "landmark_source",
    "landmark_source_names",
    "register_landmark_source",
]
