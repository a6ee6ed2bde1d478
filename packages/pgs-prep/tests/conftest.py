from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
CLIP = SHARED / "hdtf_RD_Radio34_000.mp4"
MODEL = SHARED / "face_landmarker.task"


@pytest.fixture
def clip() -> Path:
    if not CLIP.is_file():
        pytest.skip(f"real test clip not found at {CLIP}")
    return CLIP


@pytest.fixture
def model() -> Path:
    if not MODEL.is_file():
        pytest.skip(f"MediaPipe Face Landmarker bundle not found at {MODEL}")
    return MODEL


def write_video(path: Path, frames: list[np.ndarray], pts: list[int] | None = None, time_base: int = 25,
                audio: np.ndarray | None = None) -> None:
    """Encode RGB frames with PyAV (mpeg4); `pts` in units of 1/time_base seconds; optional mono 16 kHz audio."""
    from fractions import Fraction

    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        vs = out.add_stream("mpeg4", rate=25)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.time_base = Fraction(1, time_base)
        vs.codec_context.time_base = Fraction(1, time_base)
        if audio is not None:
            aus = out.add_stream("aac", rate=16000, layout="mono")
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = pts[i] if pts is not None else i * time_base // 25
            f.time_base = Fraction(1, time_base)
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        if audio is not None:
            af = av.AudioFrame.from_ndarray(audio.reshape(1, -1).astype(np.float32), format="fltp", layout="mono")
            af.sample_rate = 16000
            af.pts = 0
            for p in aus.encode(af):
                out.mux(p)
            for p in aus.encode():
                out.mux(p)


def real_frames(n: int, size: int = 256) -> list[np.ndarray]:
    import cv2

    from pgs.prep.video import iter_frames

    return [cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in iter_frames(CLIP, 25.0, n)]


@pytest.fixture
def make_video():
    return write_video


@pytest.fixture
def clip_frames(clip):
    return real_frames
