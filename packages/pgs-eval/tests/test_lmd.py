from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.errors import ConfigError, DataError
from pgs.core.interfaces import EvaluationInputs
from pgs.core.landmarks68 import MEDIAPIPE_MOUTH, MEDIAPIPE_TO_IBUG68, MOUTH
from pgs.core.registry import registry
from pgs.eval.errors import MissingWeightsError
from pgs.eval.landmarks import (
    LandmarkSource,
    MediaPipeLandmarks,
    landmark_source,
    landmark_source_names,
    register_landmark_source,
)
from pgs.eval.lmd import LmdConfig, LmdEvaluator, lmd, lmd_per_frame


def _landmarks(seed: int, frames: int = 3) -> torch.Tensor:
    return 100 + 50 * torch.rand(frames, 68, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_lmd_is_zero_for_identical_landmarks() -> None:
    lm = _landmarks(0)
    assert lmd_per_frame(lm, lm.clone()).abs().max().item() == 0.0


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    shift=st.tuples(st.floats(-300, 300), st.floats(-300, 300)),
    shift2=st.tuples(st.floats(-300, 300), st.floats(-300, 300)),
)
def test_lmd_is_invariant_to_translation(seed: int, shift: tuple[float, float], shift2: tuple[float, float]) -> None:
    p, t = _landmarks(seed), _landmarks(seed + 1)
    base = lmd_per_frame(p, t)
    moved = lmd_per_frame(p + torch.tensor(shift, dtype=torch.float64), t + torch.tensor(shift2, dtype=torch.float64))
    assert torch.allclose(base, moved, atol=1e-9)


def test_lmd_hand_computed_example() -> None:
    # target mouth: 20 points; prediction: same points, but point 48 moved 4 px right and point 49 3 px down,
    # plus a global shift that centring removes.
    t = torch.zeros(1, 68, 2, dtype=torch.float64)
    t[0, 48:68, 0] = torch.arange(20, dtype=torch.float64)
    p = t.clone()
    p[0, 48, 0] += 4.0
    p[0, 49, 1] += 3.0
    p[0, :, :] += torch.tensor([7.0, -2.0], dtype=torch.float64)
    p[0, :48] = 1e6  # non-mouth points must not matter
    # centring: mean shift of the prediction = (4/20, 3/20) beyond the global shift
    d = np.zeros((20, 2))
    d[0] = [4, 0]
    d[1] = [0, 3]
    d -= d.mean(axis=0)
    expected = np.linalg.norm(d, axis=1).mean()
    assert lmd_per_frame(p, t)[0].item() == pytest.approx(expected, abs=1e-12)
    # and by hand: point 48 -> (3.8, -0.15), point 49 -> (-0.2, 2.85), 18 others -> (-0.2, -0.15)
    by_hand = (math.hypot(3.8, -0.15) + math.hypot(-0.2, 2.85) + 18 * 0.25) / 20
    assert expected == pytest.approx(by_hand, abs=1e-12)


def test_lmd_mean_over_frames_skips_undetected_frames() -> None:
    p, t = _landmarks(1, 4), _landmarks(2, 4)
    per_frame = lmd_per_frame(p, t)
    p[2] = float("nan")
    value, used = lmd(p, t)
    assert used == 3
    assert value == pytest.approx(per_frame[[0, 1, 3]].mean().item())
    p[:] = float("nan")
    assert lmd(p, t) == (None, 0)


def test_lmd_evaluator_with_exact_landmarks() -> None:
    frames = torch.rand(3, 16, 16, 3)
    p, t = _landmarks(3), _landmarks(4)
    inputs = EvaluationInputs(predicted=frames, target=frames, predicted_landmarks=p, target_landmarks=t)
    result = LmdEvaluator(LmdConfig()).evaluate(inputs)[0]
    assert result.name == "LMD" and not result.higher_is_better
    assert result.value == pytest.approx(lmd_per_frame(p, t).mean().item())
    assert "landmarks: exact" in result.protocol and "48-67" in result.protocol


def test_exact_source_without_landmarks_is_a_clear_error() -> None:
    frames = torch.rand(2, 16, 16, 3)
    with pytest.raises(DataError, match="'exact' needs landmarks"):
        LmdEvaluator(LmdConfig()).evaluate(EvaluationInputs(predicted=frames, target=frames))
    with pytest.raises(DataError, match=r"\[F, 68, 2\]"):
        LmdEvaluator(LmdConfig()).evaluate(
            EvaluationInputs(
                predicted=frames, target=frames, predicted_landmarks=torch.zeros(2, 5, 2), target_landmarks=None
            )
        )


def test_landmark_source_registry() -> None:
    assert {"exact", "mediapipe", "fan"} <= set(landmark_source_names())
    with pytest.raises(ConfigError, match=r"known: .*exact"):
        landmark_source("dlib")
    with pytest.raises(ConfigError, match=r"source: .*unknown landmark source 'dlib'"):
        registry("pgs.evaluators").create("lmd", {"source": "dlib"})

    class Shifted(LandmarkSource):
        name = "fixed"
        description = "a constant layout"

        def detect(self, frames: torch.Tensor, known: torch.Tensor | None = None) -> torch.Tensor:
            out = torch.zeros(frames.shape[0], 68, 2, dtype=torch.float64)
            out[:, MOUTH, 0] = torch.arange(20, dtype=torch.float64) * frames.mean().item()
            return out

    register_landmark_source("fixed", lambda **_: Shifted(), replace=True)
    with pytest.raises(ConfigError, match="already registered"):
        register_landmark_source("fixed", lambda **_: Shifted())
    a = torch.full((1, 8, 8, 3), 0.5)
    b = torch.full((1, 8, 8, 3), 0.25)
    result = LmdEvaluator(LmdConfig(source="fixed")).evaluate(EvaluationInputs(predicted=a, target=b))[0]
    # x = k * 0.5 vs k * 0.25, k = 0..19, centred: |k - 9.5| * 0.25 averaged = 5 * 0.25
    assert result.value == pytest.approx(1.25)


def test_mediapipe_source_needs_its_model_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGS_FACE_LANDMARKER", raising=False)  # None falls back to the environment variable
    with pytest.raises(MissingWeightsError, match=r"face_landmarker\.task"):
        landmark_source("mediapipe", model_path=None)
    with pytest.raises(MissingWeightsError, match=r"missing\.task"):
        landmark_source("mediapipe", model_path=tmp_path / "missing.task")


def test_fan_source_without_face_alignment_says_how_to_install() -> None:
    try:
        import face_alignment  # noqa: F401
    except ImportError:
        with pytest.raises(Exception, match="pip install face-alignment"):
            landmark_source("fan")
    else:  # pragma: no cover - face-alignment is not installed in CI
        pytest.skip("face-alignment is installed")


def test_mediapipe_map_is_68_distinct_mesh_vertices() -> None:
    assert len(MEDIAPIPE_TO_IBUG68) == 68
    assert len(set(MEDIAPIPE_TO_IBUG68)) == 68
    assert all(0 <= i < 468 for i in MEDIAPIPE_TO_IBUG68)  # mesh vertices, not iris points
    assert MEDIAPIPE_MOUTH == MEDIAPIPE_TO_IBUG68[48:68]


def test_mediapipe_finds_478_landmarks_on_the_real_clip(clip_frames: torch.Tensor, face_landmarker_path: Path) -> None:
    with MediaPipeLandmarks(face_landmarker_path) as source:
        mesh = source.detect_mesh(clip_frames)
        lm68 = source.detect(clip_frames)
    assert mesh.shape == (3, 478, 2)
    assert torch.isfinite(mesh).all()
    assert torch.equal(lm68, mesh[:, list(MEDIAPIPE_TO_IBUG68)])
    h, w = clip_frames.shape[1:3]
    assert (lm68[..., 0] > 0).all() and (lm68[..., 0] < w).all()
    assert (lm68[..., 1] > 0).all() and (lm68[..., 1] < h).all()
    for f in range(3):
        p = lm68[f]
        x, y = p[:, 0], p[:, 1]
        # iBUG layout: jaw runs image-left to image-right, the chin (8) well below its ends; eyes above nose
        # above mouth
        assert x[0] < x[8] < x[16]
        assert y[8] > max(y[0], y[16]) + 100
        assert y[36:48].mean() < y[30] < y[48:68].mean()
        assert x[36] < x[39] < x[42] < x[45]
        # mouth: corners 48 (left) and 54 (right), upper lip centre 51 above lower lip centre 57
        assert x[48] < x[51] < x[54] and y[51] < y[57]
        assert x[60] < x[62] < x[64] and y[62] <= y[66] + 0.5
        assert y[51] <= y[62] + 0.5 and y[66] <= y[57] + 0.5


def test_lmd_with_mediapipe_on_real_frames(clip_frames: torch.Tensor, face_landmarker_path: Path) -> None:
    evaluator = LmdEvaluator(LmdConfig(source="mediapipe", model_path=face_landmarker_path))
    same = evaluator.evaluate(EvaluationInputs(predicted=clip_frames, target=clip_frames.clone()))[0]
    assert same.value == pytest.approx(0.0, abs=1e-9)
    assert "mediapipe" in same.protocol and "not comparable to FAN" in same.note
    # frames of the same speaker at other times: mouth shapes differ by a few pixels
    shifted = evaluator.evaluate(EvaluationInputs(predicted=clip_frames, target=clip_frames.roll(1, dims=0)))[0]
    assert 0.3 < shifted.value < 30.0
    blank = torch.zeros_like(clip_frames)
    none = evaluator.evaluate(EvaluationInputs(predicted=blank, target=clip_frames))[0]
    assert none.value is None and "no face detected" in none.note
    evaluator.source.close()
