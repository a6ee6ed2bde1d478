from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pgs.core.cameras import cameras_from_transforms
from pgs.prep import pose


def _random_rotations(rng: np.random.Generator, n: int, max_angle: float) -> np.ndarray:
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    return pose.rodrigues(axis * rng.uniform(0, max_angle, (n, 1)))


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, (4,), elements=st.floats(-1, 1)).filter(lambda q: np.linalg.norm(q) > 0.1))
def test_quaternion_round_trip(q: np.ndarray) -> None:
    R = pose.quat_to_matrix(q)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    np.testing.assert_allclose(pose.quat_to_matrix(pose.matrix_to_quat(R)), R, atol=1e-10)


def test_rodrigues_matches_matrix_exponential() -> None:
    rng = np.random.default_rng(1)
    w = rng.normal(size=3)
    K = np.array([[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]])
    expm = torch.linalg.matrix_exp(torch.from_numpy(K)).numpy()
    np.testing.assert_allclose(pose.rodrigues(w), expm, atol=1e-12)


def test_rotation_vector_inverts_rodrigues() -> None:
    rng = np.random.default_rng(3)
    axis = rng.normal(size=(50, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    w = axis * rng.uniform(0, 3.0, (50, 1))
    np.testing.assert_allclose(pose.rotation_vector(pose.rodrigues(w)), w, atol=1e-9)
    np.testing.assert_allclose(pose.rotation_vector(np.eye(3)), np.zeros(3), atol=1e-12)


def _smooth_motion(frames: int, fast_turn_at: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A head slowly nodding and drifting (cm, radians); optionally a 12-degree turn within two frames."""
    k = np.arange(frames, dtype=np.float64)
    w = np.stack([0.15 * np.sin(k / 15.0), 0.2 * np.sin(k / 23.0 + 1.0), 0.05 * np.cos(k / 31.0)], 1)
    if fast_turn_at is not None:
        w[:, 1] += np.deg2rad(12.0) * np.clip((k - fast_turn_at) / 2.0, 0.0, 1.0)
    t = np.stack([1.5 * np.sin(k / 19.0), np.cos(k / 27.0), -60.0 + 2.0 * np.sin(k / 37.0)], 1)
    return pose.rodrigues(w), t


def _pose_error(R: np.ndarray, t: np.ndarray, R_true: np.ndarray, t_true: np.ndarray) -> np.ndarray:
    """[F] pose error in cm: translation error plus the rotation error as motion 10 cm from the centre."""
    angle = np.linalg.norm(pose.rotation_vector(R @ np.transpose(R_true, (0, 2, 1))), axis=1)
    return np.linalg.norm(t - t_true, axis=1) + 10.0 * angle


def _objective(shape, R, t, uv, strength: float) -> float:
    """The energy `smooth_poses` minimises, computed directly."""
    r, _ = pose.pose_residuals(shape, R, t, uv, 800.0, 256.0, 256.0)
    x = np.concatenate([10.0 * pose.rotation_vector(R @ R[0].T), t], 1)
    return float((r**2).sum() + strength * ((x[:-2] - 2 * x[1:-1] + x[2:]) ** 2).sum())


def test_smooth_poses_keeps_exact_poses_of_a_smooth_motion() -> None:
    shape = _synthetic_head(np.random.default_rng(0))
    R, t = _smooth_motion(60)
    uv = pose.project(pose.to_camera(shape, R, t), 800.0, 256.0, 256.0)
    Rs, ts = pose.smooth_poses(shape, R, t, uv, 800.0, 256.0, 256.0, strength=1000.0)
    assert pose.reprojection_errors(shape, Rs, ts, uv, 800.0, 256.0, 256.0).max() < 0.05


def test_smooth_poses_removes_landmark_noise() -> None:
    rng = np.random.default_rng(1)
    shape = _synthetic_head(rng)
    R_true, t_true = _smooth_motion(80)
    uv = pose.project(pose.to_camera(shape, R_true, t_true), 800.0, 256.0, 256.0)
    uv = uv + rng.normal(0.0, 1.0, uv.shape)  # 1 px landmark noise
    R, t = pose.fit_poses(shape, R_true, t_true, uv, 800.0, 256.0, 256.0)
    Rs, ts = pose.smooth_poses(shape, R, t, uv, 800.0, 256.0, 256.0, strength=1000.0)
    per_frame = _pose_error(R, t, R_true, t_true).mean()
    assert _pose_error(Rs, ts, R_true, t_true).mean() < 0.6 * per_frame
    # It minimises its energy: below the start and below random nearby poses.
    best = _objective(shape, Rs, ts, uv, 1000.0)
    assert best < _objective(shape, R, t, uv, 1000.0)
    for _ in range(5):
        step = rng.normal(0.0, 1e-3, (len(R), 6))
        assert best <= _objective(shape, *pose.apply_pose_step(Rs, ts, step), uv, 1000.0)


def test_smooth_poses_follows_a_fast_turn() -> None:
    """A fixed temporal filter cuts the corner of a fast turn; the landmarks keep the smoother on it."""
    rng = np.random.default_rng(2)
    shape = _synthetic_head(rng)
    R_true, t_true = _smooth_motion(60, fast_turn_at=30)
    uv = pose.project(pose.to_camera(shape, R_true, t_true), 800.0, 256.0, 256.0)
    uv = uv + rng.normal(0.0, 0.3, uv.shape)
    R, t = pose.fit_poses(shape, R_true, t_true, uv, 800.0, 256.0, 256.0)
    Rs, ts = pose.smooth_poses(shape, R, t, uv, 800.0, 256.0, 256.0, strength=1000.0)
    errors = pose.reprojection_errors(shape, Rs, ts, uv, 800.0, 256.0, 256.0).mean(axis=1)
    noise_only = pose.reprojection_errors(shape, R_true, t_true, uv, 800.0, 256.0, 256.0).mean(axis=1)
    excess = errors[28:34].max() - noise_only[28:34].max()
    # A temporal Gaussian filter (sigma 1 frame) of the same per-frame poses cuts the corner.
    taps = np.exp(-0.5 * np.arange(-3, 4) ** 2)
    taps /= taps.sum()

    def filtered(x: np.ndarray) -> np.ndarray:
        padded = np.pad(x, ((3, 3), (0, 0)), mode="edge")
        return sum(w * padded[k : k + len(x)] for k, w in enumerate(taps))

    R_f, t_f = pose.rodrigues(filtered(pose.rotation_vector(R))), filtered(t)
    filter_errors = pose.reprojection_errors(shape, R_f, t_f, uv, 800.0, 256.0, 256.0).mean(axis=1)
    assert excess < 0.6 * (filter_errors[28:34].max() - noise_only[28:34].max())
    # Away from the turn, the smoother is as close to the landmarks as the noise allows.
    assert np.median(errors) < np.median(noise_only) + 0.05


def test_smooth_poses_without_strength_is_the_identity() -> None:
    shape = _synthetic_head(np.random.default_rng(4))
    R, t = _smooth_motion(10)
    uv = pose.project(pose.to_camera(shape, R, t), 800.0, 256.0, 256.0) + 0.5
    Rs, ts = pose.smooth_poses(shape, R, t, uv, 800.0, 256.0, 256.0, strength=0.0)
    np.testing.assert_array_equal(Rs, R)
    np.testing.assert_array_equal(ts, t)


def _synthetic_head(rng: np.random.Generator, n: int = 300) -> np.ndarray:
    """Points on a face-like half-ellipsoid (cm): +-8 wide, +-10 tall, 6 deep."""
    u = rng.uniform(-1, 1, (n, 2))
    u = u[(u**2).sum(1) < 1]
    z = 6 * np.sqrt(1 - (u**2).sum(1)) - 2
    return np.stack([8 * u[:, 0], 10 * u[:, 1], z], 1)


def _synthetic_track(seed: int, focal: float, frames: int = 30, size: int = 512, fov: float = 63.0):
    rng = np.random.default_rng(seed)
    S = _synthetic_head(rng)
    R = _random_rotations(rng, frames, 0.3)
    t = np.stack([rng.uniform(-3, 3, frames), rng.uniform(-3, 3, frames), rng.uniform(-70, -55, frames)], 1)
    cam = pose.to_camera(S, R, t)
    uv = pose.project(cam, focal, size / 2, size / 2)
    # What MediaPipe would report: the same image with its own camera (fov 63 deg), i.e. the
    # translation scaled by f0 / f, and relative depths in units of the image width.
    f0 = (size / 2) / np.tan(np.deg2rad(fov) / 2)
    mats = np.tile(np.eye(4), (frames, 1, 1))
    mats[:, :3, :3] = R
    mats[:, :3, 3] = t * f0 / focal
    depth = -cam[..., 2]
    z_rel = (depth / (-t[:, 2:3]) - 1) * focal / size
    return S, R, t, uv, z_rel, mats


def test_fit_recovers_a_synthetic_camera() -> None:
    _S, _R, _t, uv, z_rel, mats = _synthetic_track(0, focal=900.0)
    fit = pose.fit_cameras(uv, z_rel, mats, 512, 512, smoothness=0.0, expression_components=0)
    assert np.median(fit.rigid_errors) < 0.1
    assert fit.focal == pytest.approx(900.0, rel=0.1)


def test_fixed_focal_poses_reproject_exactly() -> None:
    _S, _R, _t, uv, z_rel, mats = _synthetic_track(1, focal=700.0)
    fit = pose.fit_cameras(uv, z_rel, mats, 512, 512, focal=700.0, smoothness=0.0, expression_components=0)
    assert fit.focal == 700.0
    # Two pose/shape alternation rounds: sub-pixel, not exact.
    assert np.median(fit.errors) < 0.03
    assert fit.errors.max() < 0.25


def test_transform_matrix_round_trip_through_core_cameras() -> None:
    """c2w written for the folder + pgs.core's OpenGL->OpenCV conversion reproject the landmarks."""
    _S, _R, _t, uv, z_rel, mats = _synthetic_track(3, focal=800.0)
    fit = pose.fit_cameras(uv, z_rel, mats, 512, 512, focal=800.0, smoothness=0.0, expression_components=0)
    centre = pose.head_centre(fit.shape)
    c2w = pose.camera_to_world(fit.rotations, fit.translations, centre)
    world = (fit.shape - centre) * pose.CM_TO_UNITS
    cams = cameras_from_transforms(torch.from_numpy(c2w), 800.0, 256.0, 256.0, 512, 512)
    vm = cams.viewmats.double().numpy()
    pc = np.einsum("fij,pj->fpi", vm[:, :3, :3], world) + vm[:, None, :3, 3]  # OpenCV camera frame
    assert (pc[..., 2] > 0).all()
    proj = 800.0 * pc[..., :2] / pc[..., 2:3] + 256.0
    own = pose.project(pose.to_camera(fit.shape, fit.rotations, fit.translations), 800.0, 256.0, 256.0)
    np.testing.assert_allclose(proj, own, atol=1e-6)  # the conventions agree exactly
    np.testing.assert_allclose(proj, uv, atol=0.3)
    # Head at the origin, about +-0.1 units; camera about 0.6 units away (TalkingGaussian's scale).
    assert np.abs(world).max() < 0.12
    assert 0.4 < np.median(np.linalg.norm(c2w[:, :3, 3], axis=1)) < 0.9


def test_expression_model_reduces_error_of_a_non_rigid_face() -> None:
    S, R, t, _, _, mats = _synthetic_track(4, focal=800.0)
    rng = np.random.default_rng(5)
    open_mouth = np.zeros_like(S)
    open_mouth[S[:, 1] < -4, 1] = -1.5  # the jaw drops
    amount = rng.uniform(0, 1, len(R))
    shapes = S[None] + amount[:, None, None] * open_mouth[None]
    cam = pose.to_camera(shapes, R, t)
    uv = pose.project(cam, 800.0, 256, 256)
    z_rel = (-cam[..., 2] / (-t[:, 2:3]) - 1) * 800.0 / 512
    rigid = pose.fit_cameras(uv, z_rel, mats, 512, 512, focal=800.0, smoothness=0, expression_components=0)
    expr = pose.fit_cameras(uv, z_rel, mats, 512, 512, focal=800.0, smoothness=0, expression_components=2)
    assert np.median(expr.frame_errors) < 0.3 * np.median(rigid.frame_errors)
    np.testing.assert_allclose(expr.rigid_errors, rigid.errors, atol=1e-9)


def test_smoothing_is_the_same_at_every_image_size() -> None:
    """Landmarks of the same motion at 256 and 512 pixels (noise scaling with the image): same poses."""
    _S, _R, _t, uv, z_rel, mats = _synthetic_track(6, focal=800.0, frames=40)
    noisy = uv + np.random.default_rng(7).normal(0.0, 1.0, uv.shape)
    big = pose.fit_cameras(noisy, z_rel, mats, 512, 512, focal=800.0, expression_components=0)
    small = pose.fit_cameras(noisy / 2, z_rel, mats, 256, 256, focal=400.0, expression_components=0)
    np.testing.assert_allclose(small.translations, big.translations, atol=1e-6)
    np.testing.assert_allclose(small.rotations, big.rotations, atol=1e-8)
    per_frame = pose.fit_cameras(noisy, z_rel, mats, 512, 512, focal=800.0, smoothness=0.0, expression_components=0)
    assert np.abs(per_frame.translations - big.translations).max() > 1e-3  # it did smooth
