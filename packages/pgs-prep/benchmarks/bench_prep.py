"""Per-frame cost of pgs prep's stages on the real clip (512x512), against MediaPipe's own cost.

Run with ``make bench``. Report ratios to ``test_mediapipe_detect`` measured in the same run:
absolute times depend on the machine's load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
CLIP, MODEL = SHARED / "hdtf_RD_Radio34_000.mp4", SHARED / "face_landmarker.task"


@pytest.fixture(scope="module")
def tracked():
    """40 real frames, their landmarks and a background model."""
    if not (CLIP.is_file() and MODEL.is_file()):
        pytest.skip(f"real clip or model missing under {SHARED}")
    from pgs.prep.background import build_background
    from pgs.prep.tracking import FaceTracker
    from pgs.prep.video import iter_frames

    frames = list(iter_frames(CLIP, 25.0, 40))
    with FaceTracker(MODEL, video=False) as tracker:
        lms = np.stack([tracker.detect(f).landmarks[:, :2] * 512 for f in frames])
    return frames, lms, build_background(np.stack(frames), np.median(lms, 0))


def test_mediapipe_detect(benchmark, tracked) -> None:
    """Reference: one MediaPipe Face Landmarker call (VIDEO mode)."""
    from pgs.prep.tracking import FaceTracker

    frames, _, _ = tracked
    with FaceTracker(MODEL, video=True) as tracker:
        counter = iter(range(10**9))
        benchmark(lambda: tracker.detect(frames[next(counter) % len(frames)], next(counter) * 40))


def test_masks_one_frame(benchmark, tracked) -> None:
    """Foreground, labels and parsing colours of one frame."""
    from pgs.prep import masks, mesh

    frames, lms, bgm = tracked

    def run() -> None:
        face = masks.polygon_mask(lms[5][list(mesh.FACE_OVAL)], 512, 512)
        masks.parsing_image(masks.parse_frame(frames[5], lms[5], bgm.foreground(frames[5], face)))

    benchmark(run)


def test_camera_fit_200_frames(benchmark, tracked) -> None:
    """Focal search and final fit over 200 frames."""
    from pgs.prep import pose
    from pgs.prep.tracking import FaceTracker

    frames, _, _ = tracked
    with FaceTracker(MODEL, video=True) as tracker:
        dets = [tracker.detect(f, i * 40) for i, f in enumerate(frames)]
    L = np.stack([d.landmarks for d in dets] * 5)
    M = np.stack([d.matrix for d in dets] * 5)
    benchmark.pedantic(lambda: pose.fit_cameras(L[..., :2] * 512, L[..., 2], M, 512, 512), rounds=1, iterations=1)
