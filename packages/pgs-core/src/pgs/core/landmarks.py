"""MediaPipe Face Landmarker, the toolkit's one wrapper (pgs-prep's tracker, pgs-eval's LMD source).

- mediapipe is imported only when a landmarker is created, so importing this module is cheap and
  works without mediapipe installed.
- The model bundle (``face_landmarker.task``) is given by path, else read from the environment
  variable ``PGS_FACE_LANDMARKER``; it is never downloaded.
- MediaPipe's native (glog/absl, TFLite) logs are silenced with `pgs.core.native_logs` while the
  graph is created, runs and closes; the toolkit's own messages still show.
- VIDEO mode tracks between frames (monotonically increasing timestamps); IMAGE mode detects
  every frame on its own.
"""

from __future__ import annotations

import os
import weakref
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from pgs.core.errors import DataError, MissingWeightsError, PluginError
from pgs.core.landmarks68 import MEDIAPIPE_NUM_LANDMARKS
from pgs.core.native_logs import native_stderr_silenced, quiet_native_env

#: Where users get the model bundle (the toolkit never downloads it).
MODEL_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/face_landmarker/float16/latest/"
    "face_landmarker.task"
)
#: Environment variable naming the model bundle when no path is given.
MODEL_ENV = "PGS_FACE_LANDMARKER"
#: Points of the Face Landmarker mesh (468 face + 10 iris).
NUM_LANDMARKS = MEDIAPIPE_NUM_LANDMARKS
#: Blendshape scores per face.
NUM_BLENDSHAPES = 52


class LandmarkerModelError(MissingWeightsError, DataError):
    """The Face Landmarker bundle is not given, missing or not a Face Landmarker bundle.

    Both a `MissingWeightsError` (a model file) and a `DataError` (bad input), so callers of either
    kind catch it.
    """


def model_from_env(path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The given model path, else ``$PGS_FACE_LANDMARKER``, else None (nothing is checked)."""
    if path is not None:
        return Path(path)
    value = (os.environ if environ is None else environ).get(MODEL_ENV)
    return Path(value) if value else None


def resolve_model_path(
    path: str | os.PathLike[str] | None, *, blendshapes: bool = True, environ: Mapping[str, str] | None = None
) -> Path:
    """Check the Face Landmarker bundle: the given path, else ``$PGS_FACE_LANDMARKER``.

    Args:
        path: the ``face_landmarker.task`` file, or None for the environment variable.
        blendshapes: also require the blendshape model inside the bundle.
        environ: environment (default ``os.environ``).

    Raises:
        LandmarkerModelError: no path, a missing file, or a file that is not a Face Landmarker
            bundle; one line naming the file, where to get it and how to pass it.
    """
    p = model_from_env(path, environ)
    if p is None:
        raise LandmarkerModelError(
            "no MediaPipe Face Landmarker model given: pass --landmarker PATH/face_landmarker.task "
            f"or set {MODEL_ENV} (download it once from {MODEL_URL})"
        )
    if not p.is_file():
        raise LandmarkerModelError(
            f"{p}: Face Landmarker model file not found; download face_landmarker.task once from {MODEL_URL} "
            f"and pass its path (--landmarker, model_path or {MODEL_ENV})"
        )
    try:
        with zipfile.ZipFile(p) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError):
        raise LandmarkerModelError(f"{p}: not a MediaPipe model bundle (.task zip archive)") from None
    needed = {"face_landmarks_detector.tflite"} | ({"face_blendshapes.tflite"} if blendshapes else set())
    if not needed <= names:
        raise LandmarkerModelError(
            f"{p}: not a Face Landmarker bundle{' with blendshapes' if blendshapes else ''} "
            f"(has {sorted(names)}); get {MODEL_URL}"
        )
    return p


@dataclass
class FaceDetection:
    """One frame's face.

    Attributes:
        landmarks: [478, 3] normalised x, y (fractions of width and height) and relative depth z.
        matrix: [4, 4] facial transformation matrix (canonical face, cm -> OpenGL camera frame), or
            None when not requested.
        blendshapes: [52] blendshape scores in [0, 1], or None when not requested.
    """

    landmarks: np.ndarray
    matrix: np.ndarray | None = None
    blendshapes: np.ndarray | None = None

    def pixels(self, width: int, height: int) -> np.ndarray:
        """[478, 2] float64 landmark pixel coordinates (x, y) in a `width` x `height` image."""
        return self.landmarks[:, :2].astype(np.float64) * np.array([width, height], dtype=np.float64)


def _close_quietly(landmarker: Any) -> None:
    with native_stderr_silenced():
        landmarker.close()


class FaceLandmarker:
    """MediaPipe Face Landmarker for one face.

    Args:
        model_path: the ``face_landmarker.task`` bundle (None: ``$PGS_FACE_LANDMARKER``).
        video: VIDEO running mode (tracking between frames) if True, IMAGE mode otherwise.
        min_confidence: detection / presence / tracking confidence thresholds.
        blendshapes: also return the 52 blendshape scores.
        matrices: also return the facial transformation matrix.

    Use as a context manager, or call `close` (it is also closed when garbage-collected).

    Raises:
        LandmarkerModelError: the bundle is not given, missing or not a Face Landmarker bundle.
        PluginError: mediapipe is not installed.
        DataError: MediaPipe cannot load the bundle.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        video: bool = False,
        min_confidence: float = 0.5,
        blendshapes: bool = True,
        matrices: bool = True,
    ) -> None:
        self.model_path = resolve_model_path(model_path, blendshapes=blendshapes)
        quiet_native_env()
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as exc:
            raise PluginError(
                f"the MediaPipe Face Landmarker needs the mediapipe package (pip install mediapipe): {exc}"
            ) from None
        self._mp = mp
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
            num_faces=1,
            min_face_detection_confidence=min_confidence,
            min_face_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
            output_face_blendshapes=blendshapes,
            output_facial_transformation_matrixes=matrices,
        )
        try:
            with native_stderr_silenced():  # MediaPipe's C++ start-up logs
                self._landmarker = vision.FaceLandmarker.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(
                f"{self.model_path}: MediaPipe could not load the Face Landmarker model: {message}"
            ) from None
        # closed at garbage collection or exit too (MediaPipe's own finaliser prints an error late at exit)
        self._finalizer = weakref.finalize(self, _close_quietly, self._landmarker)
        self.video = video
        self._blendshapes = blendshapes
        self._matrices = matrices
        self._last_ts = -1

    def detect(self, rgb: np.ndarray, timestamp_ms: int | None = None) -> FaceDetection | None:
        """Detect the face in one RGB frame.

        Args:
            rgb: [H, W, 3] uint8 RGB image.
            timestamp_ms: frame time (VIDEO mode; raised to the previous call's + 1 if not larger).

        Returns:
            The detection, or None when no face is found.

        Raises:
            RuntimeError: the landmarker was closed.
            DataError: the model gives a mesh other than 478 points.
        """
        if not self._finalizer.alive:
            raise RuntimeError("this MediaPipe Face Landmarker was closed")
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        with native_stderr_silenced():
            if self.video:
                ts = self._last_ts + 1 if timestamp_ms is None else max(int(timestamp_ms), self._last_ts + 1)
                self._last_ts = ts
                result = self._landmarker.detect_for_video(image, ts)
            else:
                result = self._landmarker.detect(image)
        if not result.face_landmarks:
            return None
        lms = np.array([(p.x, p.y, p.z) for p in result.face_landmarks[0]], dtype=np.float32)
        if lms.shape[0] != NUM_LANDMARKS:
            raise DataError(f"{self.model_path}: the model gave {lms.shape[0]} landmarks, expected {NUM_LANDMARKS}")
        matrix = bs = None
        if self._matrices:
            matrix = np.asarray(result.facial_transformation_matrixes[0], dtype=np.float64).reshape(4, 4)
        if self._blendshapes:
            bs = np.array([c.score for c in result.face_blendshapes[0]], dtype=np.float32)
            if bs.shape[0] != NUM_BLENDSHAPES:
                return None
        return FaceDetection(lms, matrix, bs)

    def close(self) -> None:
        """Release the MediaPipe graph (idempotent)."""
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer()

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = [
    "MODEL_ENV",
    "MODEL_URL",
    "NUM_BLENDSHAPES",
    "NUM_LANDMARKS",
    "FaceDetection",
    "FaceLandmarker",
    "LandmarkerModelError",
    "model_from_env",
    "resolve_model_path",
]
