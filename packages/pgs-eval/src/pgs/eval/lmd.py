"""LMD: mouth landmark distance as AD-NeRF / RAD-NeRF / ER-NeRF / TalkingGaussian compute it.

Mouth points 48-67 of the 68-point layout (20 points); each set is centred on its own mean
(translation only, no scale or rotation normalisation); per frame the mean over the 20 points
of the Euclidean distance in pixels; LMD = mean over frames. Frames where either side has no
landmarks (no face found) are left out and counted in the note.
"""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import Field, field_validator
from torch import Tensor

from pgs.core.config import ComponentConfig
from pgs.core.errors import DataError
from pgs.core.groups import EVALUATORS
from pgs.core.interfaces import EvaluationInputs, Evaluator, MetricValue
from pgs.core.landmarks68 import MOUTH
from pgs.core.registry import ComponentSpec
from pgs.eval.landmarks import LandmarkSource, landmark_source, landmark_source_names
from pgs.eval.regions import check_frames, check_landmarks


def lmd_per_frame(predicted: Tensor, target: Tensor) -> Tensor:
    """Mouth landmark distance of each frame.

    Args:
        predicted: [F, 68, 2] landmarks in pixels.
        target: [F, 68, 2] landmarks in pixels.

    Returns:
        [F] float64 mean distance in pixels over points 48-67 after centring each set on its mean;
        NaN where either set has a NaN.
    """
    p = predicted.double()[:, MOUTH]
    t = target.double()[:, MOUTH]
    p = p - p.mean(dim=1, keepdim=True)
    t = t - t.mean(dim=1, keepdim=True)
    return torch.linalg.vector_norm(p - t, dim=-1).mean(dim=1)


def lmd(predicted: Tensor, target: Tensor) -> tuple[float | None, int]:
    """Mean LMD over the frames where both sides have landmarks.

    Returns:
        (LMD in pixels or None when no frame is usable, number of frames used).
    """
    per_frame = lmd_per_frame(predicted, target)
    valid = torch.isfinite(per_frame)
    used = int(valid.sum())
    return (float(per_frame[valid].mean()) if used else None), used


class LmdConfig(ComponentConfig):
    """Config of the ``lmd`` evaluator."""

    source: str = Field(
        "exact",
        description="Landmark source for both sides: 'exact' (supplied landmarks), 'mediapipe' or 'fan'.",
    )
    model_path: Path | None = Field(
        None, description="MediaPipe Face Landmarker model (face_landmarker.task); 'mediapipe' source only."
    )
    device: str = Field("cpu", description="Torch device of the FAN detector; 'fan' source only.")

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        names = landmark_source_names()
        if value not in names:
            raise ValueError(f"unknown landmark source {value!r}; known: {', '.join(names)}")
        return value


class LmdEvaluator(Evaluator):
    """LMD (lower is better) on mouth landmarks 48-67 from the configured source."""

    name = "lmd"
    description = "Mouth landmark distance (points 48-67, mean-centred, pixels) from exact, MediaPipe or FAN landmarks"

    def __init__(self, config: LmdConfig) -> None:
        self.config = config
        self._source: LandmarkSource | None = None

    @property
    def source(self) -> LandmarkSource:
        """The landmark source (created on first use)."""
        if self._source is None:
            self._source = landmark_source(
                self.config.source, model_path=self.config.model_path, device=self.config.device
            )
        return self._source

    def evaluate(self, inputs: EvaluationInputs) -> list[MetricValue]:
        """Return ``[LMD]`` in pixels, naming the landmark source in the protocol."""
        check_frames(inputs.predicted, "predicted")
        frames = int(inputs.predicted.shape[0])
        source = self.source
        if inputs.target is not None:
            check_frames(inputs.target, "target")
            if inputs.target.shape != inputs.predicted.shape:
                raise DataError(
                    f"predicted {list(inputs.predicted.shape)} and target {list(inputs.target.shape)} differ in shape"
                )
        elif source.name != "exact" or inputs.target_landmarks is None:
            raise DataError("LMD compares with ground truth, but no target frames or target landmarks were given")
        for name in ("predicted_landmarks", "target_landmarks"):
            if getattr(inputs, name) is not None:
                check_landmarks(getattr(inputs, name), frames, name)
        pred = source.detect(inputs.predicted, inputs.predicted_landmarks)
        target_frames = inputs.target if inputs.target is not None else inputs.predicted
        true = source.detect(target_frames, inputs.target_landmarks)
        value, used = lmd(pred, true)
        protocol = (
            f"LMD in pixels, mouth points 48-67 mean-centred, mean over points and {used} frames; "
            f"landmarks: {source.name} ({source.description})"
        )
        note = ""
        if source.name == "mediapipe":
            note = "MediaPipe landmarks: not comparable to FAN-based published LMD."
        if used < frames:
            missing = f"{frames - used} of {frames} frames had no face detected and were left out"
            note = f"{note} {missing}".strip()
        if value is None:
            note = f"no frame with landmarks on both sides; {note}"
        return [MetricValue("LMD", value, False, protocol, note)]


SPEC = ComponentSpec.of(EVALUATORS, LmdConfig, LmdEvaluator)

__all__ = ["SPEC", "LmdConfig", "LmdEvaluator", "lmd", "lmd_per_frame"]
