"""Tri-plane encoder against a direct per-point bilinear lookup written here (float64)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.model.triplane import TriPlaneConfig, TriPlaneEncoder, level_resolutions

AXES = ((0, 1), (1, 2), (0, 2))


def reference_features(enc: TriPlaneEncoder, xyz: np.ndarray) -> np.ndarray:
    """Loop over points, planes and levels; torch-ngp's vertex rule pos = u * (H s^l - 1) + 0.5."""
    cfg = enc.config
    s = (cfg.desired_resolution / cfg.base_resolution) ** (1.0 / (cfg.levels - 1))
    out = np.zeros((len(xyz), 3 * cfg.levels))
    for n, point in enumerate(xyz):
        u = (point + cfg.bound) / (2 * cfg.bound)
        for p, (a, b) in enumerate(AXES):
            if not (0 <= u[a] <= 1 and 0 <= u[b] <= 1):
                continue
            for level in range(cfg.levels):
                grid = enc.plane(p, level).detach().double().numpy()
                scale = cfg.base_resolution * s**level - 1
                pa, pb = u[a] * scale + 0.5, u[b] * scale + 0.5
                ia, ib = math.floor(pa), math.floor(pb)
                fa, fb = pa - ia, pb - ib
                value = (
                    grid[ia, ib] * (1 - fa) * (1 - fb)
                    + grid[ia + 1, ib] * fa * (1 - fb)
                    + grid[ia, ib + 1] * (1 - fa) * fb
                    + grid[ia + 1, ib + 1] * fa * fb
                )
                out[n, p * cfg.levels + level] = value
    return out


def make_encoder(config: TriPlaneConfig, seed: int = 0) -> TriPlaneEncoder:
    torch.manual_seed(seed)
    enc = TriPlaneEncoder(config)
    with torch.no_grad():  # larger values than the 1e-4 init so differences are visible
        enc.planes.uniform_(-1.0, 1.0)
    return enc


def test_level_resolutions_match_talkinggaussian():
    # The per-level resolutions listed in TalkingGaussian's grid encoder (ceil(H * s^l)).
    assert level_resolutions(16, 256 * 0.15, 12) == [16, 18, 19, 21, 22, 24, 26, 28, 31, 33, 36, 39]
    assert level_resolutions(64, 384 * 0.15, 12) == [64, 64, 63, 63, 62, 62, 61, 60, 60, 59, 59, 58]
    enc = TriPlaneEncoder()
    assert enc.output_dim == 36
    assert enc.plane(0, 11).shape == (40, 40)


@pytest.mark.parametrize(
    "config",
    [TriPlaneConfig(), TriPlaneConfig(base_resolution=64, desired_resolution=57.6), TriPlaneConfig(levels=3)],
    ids=["face", "mouth", "small"],
)
def test_matches_direct_bilinear_lookup(config):
    enc = make_encoder(config)
    rng = np.random.default_rng(1)
    xyz = rng.uniform(-config.bound, config.bound, size=(64, 3))
    ref = reference_features(enc, xyz)
    got32 = enc(torch.from_numpy(xyz).float()).detach().double().numpy()
    np.testing.assert_allclose(got32, ref, atol=5e-5)  # float32 positions: ~1e-6 relative in u
    got64 = enc.double()(torch.from_numpy(xyz)).detach().numpy()
    np.testing.assert_allclose(got64, ref, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-0.3, 0.3, allow_nan=False), min_size=3, max_size=3))
def test_property_inside_and_outside(point):
    enc = make_encoder(TriPlaneConfig(levels=4), seed=3)
    xyz = np.asarray([point])
    got = enc.double()(torch.tensor(xyz, dtype=torch.float64)).detach().numpy()
    np.testing.assert_allclose(got, reference_features(enc, xyz), atol=1e-12)


def test_outside_points_get_zero_features():
    enc = make_encoder(TriPlaneConfig())
    xyz = torch.tensor([[0.2, 0.0, 0.0], [0.0, -0.16, 0.0], [0.5, 0.5, 0.5], [0.01, 0.02, 0.03]])
    f = enc(xyz).view(4, 3, 12)
    # x outside: xy and xz planes are zero, yz is not (TalkingGaussian's per-plane encoders).
    assert torch.all(f[0, 0] == 0) and torch.all(f[0, 2] == 0) and torch.all(f[0, 1] != 0)
    # y outside: xy and yz zero, xz not.
    assert torch.all(f[1, 0] == 0) and torch.all(f[1, 1] == 0) and torch.all(f[1, 2] != 0)
    assert torch.all(f[2] == 0)
    assert torch.all(f[3] != 0)


def test_gradients_reach_planes_with_bilinear_weights():
    enc = make_encoder(TriPlaneConfig(levels=2))
    xyz = torch.tensor([[0.013, -0.052, 0.101]])
    enc(xyz)[0, 0].backward()  # xy plane, level 0
    flat = enc.planes.grad
    assert flat is not None
    nonzero = flat.nonzero()
    assert len(nonzero) == 4 and torch.all(nonzero[:, 0] == 0)
    assert flat.sum().item() == pytest.approx(1.0, abs=1e-6)  # bilinear weights sum to one
    # Every level of every plane receives gradient from a full backward.
    enc.planes.grad = None
    enc(torch.rand(50, 3) * 0.2 - 0.1).sum().backward()
    side0 = level_resolutions(16, 38.4, 2)[0] + 1
    assert enc.planes.grad[:, : side0 * side0].abs().sum(1).gt(0).all()
    assert enc.planes.grad[:, side0 * side0 :].abs().sum(1).gt(0).all()


def test_gradient_wrt_positions_matches_finite_differences():
    enc = make_encoder(TriPlaneConfig(levels=3)).double()
    xyz = torch.tensor([[0.0123, -0.0417, 0.0771], [-0.09, 0.03, -0.011]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: enc(x), (xyz,), eps=1e-7, atol=1e-5)


def test_bad_input_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"xyz must be \[N, 3\]"):
        TriPlaneEncoder()(torch.zeros(4, 2))


def test_oversized_config_is_refused():
    with pytest.raises(ValueError, match="max_vertices"):
        TriPlaneConfig(base_resolution=512, desired_resolution=4096, levels=16)
