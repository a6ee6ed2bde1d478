"""The compiled tri-plane lookup against the PyTorch reference lookup (values and gradients)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("numba")

from pgs.core.model.triplane import (
    FACE_TRIPLANE,
    MOUTH_TRIPLANE,
    TriPlaneConfig,
    TriPlaneEncoder,
    _CompiledLookup,
    triplane_reference,
)


def _encoder(config: TriPlaneConfig, dtype: torch.dtype = torch.float32, seed: int = 0) -> TriPlaneEncoder:
    torch.manual_seed(seed)
    enc = TriPlaneEncoder(config).to(dtype)
    with torch.no_grad():  # values of order 1, so bilinear weights and differences are visible
        enc.planes.uniform_(-1.0, 1.0)
    return enc


def _points(n: int, bound: float, dtype: torch.dtype, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # 1.2 x the box: about half of the points leave it on some axis (zero planes, zero gradients)
    return ((torch.rand(n, 3, generator=g, dtype=torch.float64) * 2 - 1) * 1.2 * bound).to(dtype)


def _both(enc: TriPlaneEncoder, xyz: torch.Tensor, grad: torch.Tensor):
    """Features and gradients (xyz, planes) from the compiled path and from the reference."""
    results = []
    for fn in (enc, lambda x: triplane_reference(enc, x)):
        x = xyz.clone().requires_grad_(True)
        enc.planes.grad = None
        out = fn(x)
        out.backward(grad)
        results.append((out.detach(), x.grad.clone(), enc.planes.grad.clone()))
    return results


@pytest.mark.parametrize("config", [FACE_TRIPLANE, MOUTH_TRIPLANE], ids=["face", "mouth"])
def test_float32_matches_reference(config):
    enc = _encoder(config)
    xyz = _points(3000, config.bound, torch.float32)
    grad = torch.randn(3000, enc.output_dim, generator=torch.Generator().manual_seed(2))
    (f, gx, gp), (rf, rgx, rgp) = _both(enc, xyz, grad)
    assert torch.equal(f, rf)  # same float32 operations in the same order
    assert (f == 0).any() and (f != 0).any()
    torch.testing.assert_close(gx, rgx, rtol=1e-5, atol=1e-5 * float(rgx.abs().max()))
    # plane gradients are sums over points: the order differs (point order here, scatter there)
    torch.testing.assert_close(gp, rgp, rtol=1e-5, atol=1e-5 * float(rgp.abs().max()))
    assert (gp != 0).sum() > 0.5 * (rgp != 0).sum()


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 60),
    levels=st.integers(1, 6),
    base=st.floats(2.0, 20.0),
    growth=st.floats(1.0, 3.0),
    seed=st.integers(0, 10_000),
)
def test_float64_matches_reference(n, levels, base, growth, seed):
    config = TriPlaneConfig(levels=levels, base_resolution=base, desired_resolution=base * growth, bound=0.15)
    enc = _encoder(config, torch.float64, seed)
    xyz = _points(n, config.bound, torch.float64, seed + 1)
    grad = torch.randn(n, enc.output_dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    (f, gx, gp), (rf, rgx, rgp) = _both(enc, xyz, grad)
    torch.testing.assert_close(f, rf, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gx, rgx, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(gp, rgp, rtol=1e-10, atol=1e-10)


def test_gradcheck_float64():
    config = TriPlaneConfig(levels=3, base_resolution=4.0, desired_resolution=9.0, bound=0.15)
    enc = _encoder(config, torch.float64)
    # inside the box and away from vertex lines (the lookup is piecewise bilinear: kinks at vertices)
    xyz = _points(6, 0.1, torch.float64).requires_grad_(True)
    planes = enc.planes.detach().clone().requires_grad_(True)

    def fn(x, p):
        bound = config.bound
        u = (x + bound) / (2.0 * bound)
        inside = ((u >= 0) & (u <= 1)).to(x.dtype)
        return _CompiledLookup.apply(u, inside, p, enc._scales, enc._sides, enc._offsets)

    assert torch.autograd.gradcheck(fn, (xyz, planes), eps=1e-7, atol=1e-6)


def test_outside_the_box_gives_zero_features_and_gradients():
    enc = _encoder(FACE_TRIPLANE)
    xyz = torch.tensor([[0.5, 0.0, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
    out = enc(xyz)
    levels = FACE_TRIPLANE.levels
    assert torch.all(out[0, :levels] == 0) and torch.all(out[0, 2 * levels :] == 0)  # xy and xz leave the box
    assert torch.all(out[0, levels : 2 * levels] != 0)  # yz still inside
    out.sum().backward()
    assert xyz.grad[0, 0] == 0


def test_repeatable_and_reference_on_other_dtypes():
    enc = _encoder(FACE_TRIPLANE)
    xyz = _points(500, 0.15, torch.float32)
    a, b = enc(xyz), enc(xyz)
    assert torch.equal(a, b)
    enc.use_kernels = False
    assert torch.equal(enc(xyz), a)
    # mixed dtypes fall back to the reference (float64 points, float32 planes)
    enc.use_kernels = True
    assert torch.equal(enc(xyz.double()), triplane_reference(enc, xyz.double()))


def test_chunked_parallel_backward_matches_reference_and_ignores_the_thread_count():
    """20k points: the backward runs 8 chunks in parallel; same gradients for 1 and 2 threads."""
    import numba

    from pgs.core.model.triplane_kernels import MAX_CHUNKS, chunk_count

    n = 20_000
    assert chunk_count(n) == MAX_CHUNKS and chunk_count(100) == 1
    enc = _encoder(FACE_TRIPLANE, torch.float64)
    xyz = _points(n, 0.15, torch.float64)
    grad = torch.randn(n, 3 * FACE_TRIPLANE.levels, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    (f, dx, dp), (f_ref, dx_ref, dp_ref) = _both(enc, xyz, grad)
    assert torch.allclose(f, f_ref, rtol=0, atol=1e-12)
    assert torch.allclose(dx, dx_ref, rtol=1e-9, atol=1e-10)
    assert torch.allclose(dp, dp_ref, rtol=1e-9, atol=1e-10)
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one numba thread here: nothing to compare across thread counts")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        f1, dx1, dp1 = _both(enc, xyz, grad)[0]
        numba.set_num_threads(2)
        f2, dx2, dp2 = _both(enc, xyz, grad)[0]
    finally:
        numba.set_num_threads(before)
    assert torch.equal(f1, f2) and torch.equal(dx1, dx2) and torch.equal(dp1, dp2)
