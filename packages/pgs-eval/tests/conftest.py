"""pgs-eval test fixtures: real frames from ../shared/data (skipped with a reason when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

#: <repo>/../shared/data: real test material beside the checkout, never committed.
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
CLIP = SHARED / "hdtf_RD_Radio34_000.mp4"
FACE_LANDMARKER = SHARED / "face_landmarker.task"


def need(path: Path) -> Path:
    """Skip the test when a shared data file is absent."""
    if not path.is_file():
        pytest.skip(f"shared test file {path} is absent (see shared/data/README.md)")
    return path


@pytest.fixture(scope="session")
def clip_frames() -> torch.Tensor:
    """Frames 0, 50, 100 of the real HDTF clip as [3, 512, 512, 3] floats in [0, 1]."""
    av = pytest.importorskip("av")
    wanted = {0, 50, 100}
    frames = []
    with av.open(str(need(CLIP))) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                frames.append(frame.to_ndarray(format="rgb24"))
            if i >= max(wanted):
                break
    return torch.from_numpy(np.stack(frames)).float() / 255.0


@pytest.fixture(scope="session")
def face_landmarker_path() -> Path:
    """The MediaPipe Face Landmarker model file."""
    pytest.importorskip("mediapipe")
    return need(FACE_LANDMARKER)
