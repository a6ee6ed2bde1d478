"""Per-frame face tracking: `pgs.core.landmarks.FaceLandmarker` in MediaPipe's VIDEO mode.

478 landmarks, the facial transformation matrix and 52 blendshapes per frame. The model bundle
(``face_landmarker.task``) is given by path or ``$PGS_FACE_LANDMARKER`` and never downloaded.
The names here are kept for pgs-prep's callers; the wrapper itself lives in pgs-core.
"""

from __future__ import annotations

import os

from pgs.core.landmarks import MODEL_ENV, MODEL_URL, FaceLandmarker, resolve_model_path
from pgs.core.landmarks import FaceDetection as FrameTrack


class FaceTracker(FaceLandmarker):
    """MediaPipe Face Landmarker with blendshapes and matrices, VIDEO mode (tracking) by default.

    Args:
        model_path: the ``face_landmarker.task`` bundle (None: ``$PGS_FACE_LANDMARKER``).
        video: VIDEO running mode (tracking) if True, IMAGE mode (independent frames) otherwise.
        min_confidence: detection/presence/tracking confidence thresholds.
    """

    def __init__(
        self, model_path: str | os.PathLike[str] | None, *, video: bool = True, min_confidence: float = 0.5
    ) -> None:
        super().__init__(model_path, video=video, min_confidence=min_confidence, blendshapes=True, matrices=True)


__all__ = ["MODEL_ENV", "MODEL_URL", "FaceTracker", "FrameTrack", "resolve_model_path"]
