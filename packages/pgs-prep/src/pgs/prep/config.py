"""Options of ``pgs prep`` as a validated config."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from pgs.core.config import ComponentConfig


class PrepConfig(ComponentConfig):
    """How a video becomes a training folder (every field is a ``pgs prep`` option)."""

    landmarker: Path | None = Field(
        None, description="MediaPipe face_landmarker.task bundle (default: $PGS_FACE_LANDMARKER)."
    )
    fps: float = Field(25.0, gt=0, le=120, description="Output frame rate (the folder format assumes 25).")
    size: int | None = Field(None, ge=64, le=4096, description="Resize frames to size x size (square).")
    crop: Literal["none", "center", "face"] = Field(
        "none", description="Square crop before resizing: none, the centred square, or a square around the face."
    )
    face_scale: float = Field(
        2.6, gt=1, le=10, description="Side of the 'face' crop as a multiple of the face height (chin to forehead)."
    )
    max_frames: int | None = Field(None, ge=2, description="Use only the first N output frames.")
    audio: Path | None = Field(None, description="Take the audio from this file instead of the video's track.")
    audio_features: tuple[str, ...] = Field(
        (), description="pgs.audio_encoders names whose features are saved (e.g. 'mel', 'hubert')."
    )
    max_gap: int = Field(
        2, ge=0, description="Interpolate runs of at most this many frames without a detected face."
    )
    allow_long_gaps: bool = Field(
        False, description="Interpolate longer runs too (reported) instead of failing."
    )
    pose_smoothness: float = Field(
        1000.0,
        ge=0,
        le=1e6,
        description=(
            "Head-pose smoothing: weight of the pose acceleration against the landmark fit, px^2 per cm^2 "
            "at a 256-pixel image side (scaled with the square of the image size; 0: independent per-frame poses)."
        ),
    )
    focal: float | None = Field(None, gt=0, description="Fix the focal length in pixels instead of fitting it.")
    expression_components: int = Field(
        8, ge=0, le=64, description="Expression components of the landmark model used for the reprojection fit."
    )
    jpeg_quality: int = Field(95, ge=50, le=100, description="JPEG quality of ori_imgs and gt_imgs.")
    sheet_frames: int = Field(8, ge=1, le=64, description="Frames shown on the contact sheet.")
    workers: int = Field(2, ge=1, le=32, description="Threads for image encoding and masks.")
    overwrite: bool = Field(False, description="Replace an existing output folder (only once the new one is complete).")


__all__ = ["PrepConfig"]
