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


def test_smoothing_keeps_linear_trends_and_removes_noise() -> None:
    t = np.arange(50, dtype=np.float64)[:, None] * np.array([[0.5, -1.0, 2.0]]) + 3.0
    np.testing.assert_allclose(pose.gaussian_smooth(t, 2.0), t, atol=1e-9)
    rng = np.random.default_rng(0)
    noisy = t + rng.normal(0, 1, t.shape)
    assert np.abs(pose.gaussian_smooth(noisy, 2.0) - t).std() < 0.6 * np.abs(noisy - t).std()


def test_smooth_rotations_handles_sign_flips() -> None:
    rng = np.random.default_rng(2)
    R = np.repeat(_random_rotations(rng, 1, 0.5), 20, axis=0)
    np.testing.assert_allclose(pose.smooth_rotations(R, 1.5), R, atol=1e-9)


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
    fit = pose.fit_cameras(uv, z_rel, mats, 512, 512, smooth_sigma=0.0, expression_components=0)
    assert np.median(fit.rigid_errors) < 0.1
    assert fit.focal == pytest.approx(900.0, rel=0.1)


def test_fixed_focal_poses_reproject_exactly() -> None:
    _S, _R, _t, uv, z_rel, mats = _synthetic_track(1, focal=700.0)
    fit = pose.fit_cameras(uv, z_rel, mats, 512, 512, focal=700.0, smooth_sigma=0.0, expression_components=0)
    assert fit.focal == 700.0
    # Two pose/shape alternation rounds: sub-pixel, not exact.
    assert np.median(fit.errors) < 0.03
    assert fit.errors.max() < 0.25


def test_transform_matrix_round_trip_through_core_cameras() -> None:
    """c2w written for the folder + pgs.core's OpenGL->OpenCV conversion reproject the landmarks."""
    _S, _R, _t, uv, z_rel, mats = _synthetic_track(3, focal=800.0)
    fit = pose.fit_cameras(uv, z_rel, mats, 512, 512, focal=800.0, smooth_sigma=0.0, expression_components=0)
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
    rigid = pose.fit_cameras(uv, z_rel, mats, 512, 512, focal=800.0, smooth_sigma=0, expression_components=0)
    expr = pose.fit_cameras(uv, z_rel, mats, 512, 512, focal=800.0, smooth_sigma=0, expression_components=2)
    assert np.median(expr.frame_errors) < 0.3 * np.median(rigid.frame_errors)
    np.testing.assert_allclose(expr.rigid_errors, rigid.errors, atol=1e-9)
