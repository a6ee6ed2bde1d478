"""Landmarks tracked through a model: projection convention, anchors, and LMD on stub heads."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.errors import DataError
from pgs.core.io.audio import load_audio as read_waveform
from pgs.eval.lmd import lmd
from pgs.eval.selfdriven import tracked_landmarks
from pgs.eval.tracked_landmarks import (
    fit_anchors,
    load_landmarks3d,
    project_points,
    reference_frame,
    track_landmarks,
)


def _open(folder: Path, split: str, audio: object = None):
    from pgs.core.data.dataset import SpeakerDataset

    return SpeakerDataset.open(folder, split, audio=audio)


def test_projecting_landmarks3d_reproduces_landmarks_npy(tiny_speaker: Path) -> None:
    # The pixel convention of the tracked landmarks must be the dataset's: projecting the exact
    # 3D landmarks with each frame's camera gives landmarks.npy (written by an independent
    # OpenGL formula in the generator) within half a pixel.
    lms3d = np.load(tiny_speaker / "landmarks3d.npy")
    for split in ("train", "val"):
        dataset = _open(tiny_speaker, split)
        for i in range(len(dataset)):
            frame = dataset[i]
            uv = project_points(torch.from_numpy(lms3d[frame.img_id]), frame.camera)
            err = (uv - frame.landmarks.double()).abs().max()
            assert float(err) < 0.5, (split, i, float(err))


def test_projection_of_points_behind_the_camera_is_nan(tiny_speaker: Path) -> None:
    frame = _open(tiny_speaker, "val")[0]
    centre = frame.camera.camera_centers()[0].double()
    view_dir = frame.camera.viewmats[0, 2, :3].double()  # camera z axis in world coordinates
    behind = (centre - 0.5 * view_dir)[None]
    assert torch.isnan(project_points(behind, frame.camera)).all()


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    k=st.integers(1, 12),
    shift=st.tuples(*[st.floats(-1.0, 1.0)] * 3),
)
def test_anchors_follow_rigid_translation_and_are_exact_at_the_reference(
    seed: int, k: int, shift: tuple[float, float, float]
) -> None:
    gen = torch.Generator().manual_seed(seed)
    means = torch.randn(50, 3, generator=gen, dtype=torch.float64)
    landmarks = torch.randn(68, 3, generator=gen, dtype=torch.float64)
    anchors = fit_anchors(means, landmarks, k=k, reference=7)
    assert anchors.k == k and anchors.reference == 7
    # at the reference frame the tracked landmark is the landmark itself
    assert torch.allclose(track_landmarks(anchors, means), landmarks, atol=1e-12)
    # translating every Gaussian translates every landmark by the same vector
    t = torch.tensor(shift, dtype=torch.float64)
    assert torch.allclose(track_landmarks(anchors, means + t), landmarks + t, atol=1e-12)
    # anchors are the k nearest centres (brute-force float64 reference)
    d = np.linalg.norm(landmarks.numpy()[:, None] - means.numpy()[None], axis=-1)
    nearest = np.sort(d, axis=1)[:, :k]
    chosen = np.sort(np.take_along_axis(d, anchors.indices.numpy(), axis=1), axis=1)
    np.testing.assert_allclose(chosen, nearest, rtol=0, atol=1e-12)


def test_fit_anchors_bad_input() -> None:
    with pytest.raises(DataError, match="no Gaussians"):
        fit_anchors(torch.zeros(0, 3), torch.zeros(68, 3))
    with pytest.raises(DataError, match=r"\[68, 3\]"):
        fit_anchors(torch.zeros(5, 3), torch.zeros(20, 3))
    with pytest.raises(ValueError, match="k must be"):
        fit_anchors(torch.zeros(5, 3), torch.zeros(68, 3), k=0)
    anchors = fit_anchors(torch.randn(10, 3), torch.randn(68, 3), k=3)
    assert anchors.k == 3
    with pytest.raises(DataError, match="only 4"):
        track_landmarks(anchors, torch.randn(4, 3))


def test_reference_frame_is_the_median_mouth_opening() -> None:
    lms = np.zeros((5, 68, 3))
    openings = [0.3, 0.0, 0.5, 0.1, 0.2]
    for i, o in enumerate(openings):
        lms[i, 66, 1] = o
    # candidates 0, 2, 3, 4: openings 0.3, 0.5, 0.1, 0.2 -> sorted 0.1, 0.2, 0.3, 0.5; index 2 -> 0.3
    assert reference_frame(lms, np.array([0, 2, 3, 4])) == 0
    assert reference_frame(lms, np.array([1, 3, 4])) == 3
    with pytest.raises(DataError):
        reference_frame(lms, np.array([], dtype=np.int64))


def test_load_landmarks3d(tmp_path: Path) -> None:
    assert load_landmarks3d(tmp_path) is None
    np.save(tmp_path / "landmarks3d.npy", np.zeros((4, 68, 2)))
    with pytest.raises(DataError, match=r"\[frames, 68, 3\]"):
        load_landmarks3d(tmp_path)
    bad = np.zeros((4, 68, 3))
    bad[1, 2, 0] = np.nan
    np.save(tmp_path / "landmarks3d.npy", bad)
    with pytest.raises(DataError, match="NaN"):
        load_landmarks3d(tmp_path)
    np.save(tmp_path / "landmarks3d.npy", np.ones((4, 68, 3), dtype=np.float32))
    assert load_landmarks3d(tmp_path).shape == (4, 68, 3)
    with pytest.raises(DataError, match="image ids up to 9"):
        load_landmarks3d(tmp_path, num_images=10)


class _StubFace:
    """A face branch whose deformed centres are a fixed cloud around a frame's exact 3D landmarks."""

    def __init__(self, by_audio: dict[bytes, np.ndarray], cloud: torch.Tensor, frozen: np.ndarray | None) -> None:
        self.by_audio = by_audio
        self.cloud = cloud  # [68, m, 3] offsets around each landmark
        self.frozen = frozen

    def deformed_gaussians(
        self, audio: torch.Tensor, aus: torch.Tensor, camera: torch.Tensor | None = None
    ) -> tuple[SimpleNamespace, None]:
        lms = self.frozen if self.frozen is not None else self.by_audio[audio.numpy().tobytes()]
        means = (torch.from_numpy(lms)[:, None] + self.cloud).reshape(-1, 3)
        return SimpleNamespace(means=means), None


def _stub_head(tiny_speaker: Path, frozen_at: int | None) -> tuple[SimpleNamespace, object, object, np.ndarray]:
    train = _open(tiny_speaker, "train", audio="auto")
    val = _open(tiny_speaker, "val", audio=train.audio)
    lms3d = np.load(tiny_speaker / "landmarks3d.npy").astype(np.float64)
    by_audio = {}
    for ds in (train, val):
        for i in range(len(ds)):
            frame = ds[i]
            by_audio[frame.audio.numpy().tobytes()] = lms3d[frame.img_id]
    cloud = torch.randn(68, 4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 1e-5
    frozen = None if frozen_at is None else lms3d[frozen_at]
    return SimpleNamespace(face=_StubFace(by_audio, cloud, frozen)), train, val, lms3d


def test_tracking_a_model_that_moves_exactly_like_the_truth_gives_zero_lmd(tiny_speaker: Path) -> None:
    head, train, val, lms3d = _stub_head(tiny_speaker, frozen_at=None)
    frames = [val[i] for i in range(len(val))]
    predicted, anchors = tracked_landmarks(head, train, frames, lms3d, k=4, device="cpu")
    assert anchors.reference in set(train.img_ids.tolist())
    target = torch.stack([f.landmarks for f in frames])
    assert float((predicted - target).abs().max()) < 1e-3
    value, used = lmd(predicted, target)
    assert used == len(frames) and value < 1e-3


def test_tracking_a_frozen_model_projects_the_reference_landmarks(tiny_speaker: Path) -> None:
    # A model that never moves its Gaussians: every tracked landmark is the reference frame's
    # 3D landmark projected with the evaluated frame's camera, so LMD measures the true mouth motion.
    head, train, val, lms3d = _stub_head(tiny_speaker, frozen_at=None)
    ref = reference_frame(lms3d, train.img_ids)
    head.face.frozen = lms3d[ref]
    frames = [val[i] for i in range(len(val))]
    predicted, _ = tracked_landmarks(head, train, frames, lms3d, k=4, device="cpu")
    for i, frame in enumerate(frames):
        expected = project_points(torch.from_numpy(lms3d[ref]), frame.camera).float()
        assert torch.allclose(predicted[i], expected, atol=1e-3)
    target = torch.stack([f.landmarks for f in frames])
    value, _ = lmd(predicted, target)
    exact_mouth = [np.linalg.norm(lms3d[f.img_id, 62] - lms3d[f.img_id, 66]) for f in frames]
    ref_mouth = np.linalg.norm(lms3d[ref, 62] - lms3d[ref, 66])
    if max(abs(m - ref_mouth) for m in exact_mouth) > 1e-3:
        assert value > 1e-3


def test_read_waveform_round_trip_and_errors(tmp_path: Path) -> None:
    rate = 16000
    samples = np.sin(np.linspace(0, 40 * np.pi, rate // 2)).astype(np.float32) * 0.5
    stereo = np.stack([samples, -samples * 0.5], axis=1)
    path = tmp_path / "a.wav"
    soundfile.write(path, stereo, rate, subtype="FLOAT")
    wave, got_rate = read_waveform(path)
    assert got_rate == rate
    np.testing.assert_allclose(wave.numpy(), stereo.mean(axis=1), atol=1e-6)
    with pytest.raises(DataError, match="not found"):
        read_waveform(tmp_path / "missing.wav")
    garbage = tmp_path / "bad.wav"
    garbage.write_bytes(b"RIFF....WAVEfmt not really audio" * 4)
    with pytest.raises(DataError, match="cannot read audio"):
        read_waveform(garbage)
