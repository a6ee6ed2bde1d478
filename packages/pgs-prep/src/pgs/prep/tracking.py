"""Per-frame face tracking with MediaPipe Face Landmarker (478 landmarks, pose matrix, blendshapes).

The model bundle (``face_landmarker.task``) is given by path and never downloaded. The tracker
runs in MediaPipe's VIDEO mode (tracking between frames, monotonically increasing timestamps).
"""

from __future__ import annotations

import contextlib
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from pgs.core.errors import DataError
from pgs.core.native_logs import native_stderr_silenced, quiet_native_env

#: Where users get the model bundle (the toolkit never downloads it).
MODEL_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/latest/"
    "face_landmarker.task"
)
NUM_LANDMARKS = 478
NUM_BLENDSHAPES = 52
#: Environment variable naming the model bundle when no path is given.
MODEL_ENV = "PGS_FACE_LANDMARKER"


def resolve_model_path(path: str | os.PathLike[str] | None) -> Path:
    """Check the Face Landmarker bundle: the given path, else ``$PGS_FACE_LANDMARKER``.

    Raises:
        DataError: no path, a missing file, or a file that is not a Face Landmarker bundle.
    """
    if path is None:
        env = os.environ.get(MODEL_ENV)
        if not env:
            raise DataError(
                "no MediaPipe Face Landmarker model given: pass --landmarker PATH/face_landmarker.task "
                f"or set {MODEL_ENV} (download it once from {MODEL_URL})"
            )
        path = env
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: Face Landmarker model file not found (download it from {MODEL_URL})")
    try:
        with zipfile.ZipFile(p) as z:
            names = set(z.namelist())
    except zipfile.BadZipFile:
        raise DataError(f"{p}: not a MediaPipe model bundle (.task zip archive)") from None
    if "face_landmarks_detector.tflite" not in names or "face_blendshapes.tflite" not in names:
        raise DataError(
            f"{p}: not a Face Landmarker bundle with blendshapes (has {sorted(names)}); get {MODEL_URL}"
        )
    return p


@dataclass
class FrameTrack:
    """One frame's detection.

    Attributes:
        landmarks: [478, 3] normalised x, y (fractions of width and height) and relative depth z.
        matrix: [4, 4] facial transformation matrix (canonical face, cm -> OpenGL camera frame).
        blendshapes: [52] blendshape scores in [0, 1].
    """

    landmarks: np.ndarray
    matrix: np.ndarray
    blendshapes: np.ndarray


class FaceTracker:
    """MediaPipe Face Landmarker in VIDEO mode (one face).

    Args:
        model_path: the ``face_landmarker.task`` bundle.
        video: VIDEO running mode (tracking) if True, IMAGE mode (independent frames) otherwise.
        min_confidence: detection/presence/tracking confidence thresholds.

    Use as a context manager, or call `close`.
    """

    def __init__(self, model_path: str | os.PathLike[str], *, video: bool = True, min_confidence: float = 0.5) -> None:
        quiet_native_env()
        self._silence = contextlib.ExitStack()  # MediaPipe's C++ logs, for the tracker's lifetime
        self._silence.enter_context(native_stderr_silenced())
        try:
            self._open(model_path, video, min_confidence)
        except BaseException:
            self._silence.close()
            raise

    def _open(self, model_path: str | os.PathLike[str], video: bool, min_confidence: float) -> None:
        from mediapipe.tasks import python as mp_tasks
        from mediapipe.tasks.python import vision

        self._mp_image = __import__("mediapipe").Image
        self._srgb = __import__("mediapipe").ImageFormat.SRGB
        options = vision.FaceLandmarkerOptions(
            base_options=mp_tasks.BaseOptions(model_asset_path=str(model_path)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_faces=1,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        try:
            self._landmarker = vision.FaceLandmarker.create_from_options(options)
        except Exception as exc:
            raise DataError(f"{model_path}: MediaPipe could not load the Face Landmarker model: {exc}") from exc
        self._video = video
        self._last_ts = -1

    def detect(self, rgb: np.ndarray, timestamp_ms: int | None = None) -> FrameTrack | None:
        """Detect the face in one RGB frame.

        Args:
            rgb: [H, W, 3] uint8 RGB image.
            timestamp_ms: frame time (VIDEO mode; must increase from call to call).

        Returns:
            The detection, or None when no face is found.
        """
        image = self._mp_image(image_format=self._srgb, data=np.ascontiguousarray(rgb))
        if self._video:
            ts = self._last_ts + 1 if timestamp_ms is None else max(int(timestamp_ms), self._last_ts + 1)
            self._last_ts = ts
            result = self._landmarker.detect_for_video(image, ts)
        else:
            result = self._landmarker.detect(image)
        if not result.face_landmarks:
            return None
        lms = np.array([(p.x, p.y, p.z) for p in result.face_landmarks[0]], dtype=np.float32)
        if lms.shape[0] != NUM_LANDMARKS:
            return None
        matrix = np.asarray(result.facial_transformation_matrixes[0], dtype=np.float64).reshape(4, 4)
        bs = np.array([c.score for c in result.face_blendshapes[0]], dtype=np.float32)
        if bs.shape[0] != NUM_BLENDSHAPES:
            return None
        return FrameTrack(lms, matrix, bs)

    def close(self) -> None:
        """Release the MediaPipe graph."""
        if getattr(self, "_landmarker", None) is not None:
            self._landmarker.close()
            self._landmarker = None
        if getattr(self, "_silence", None) is not None:
            self._silence.close()
            self._silence = None

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = ["MODEL_ENV", "MODEL_URL", "FaceTracker", "FrameTrack", "resolve_model_path"]
