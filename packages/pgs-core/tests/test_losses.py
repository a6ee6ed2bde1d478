"""SSIM/PSNR against scikit-image; loss gradients by finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgs.core.losses import photometric, psnr, ssim, ssim_map
from pgs.core.metrics import psnr_per_frame

skimage_metrics = pytest.importorskip("skimage.metrics")


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**16), h=st.integers(12, 40), w=st.integers(12, 40))
def test_ssim_matches_skimage_away_from_borders(seed: int, h: int, w: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.random((h, w, 3))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    _, ref = skimage_metrics.structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0,
        channel_axis=-1, full=True,
    )
    ours = ssim_map(torch.from_numpy(a)[None], torch.from_numpy(b)[None])[0].numpy()
    np.testing.assert_allclose(ours[5:-5, 5:-5], ref[5:-5, 5:-5], atol=1e-6)


def test_ssim_of_identical_images_is_one() -> None:
    img = torch.rand(2, 16, 16, 3, dtype=torch.float64)
    assert float(ssim(img, img)) == pytest.approx(1.0, abs=1e-12)


def test_psnr_matches_closed_form_and_mask() -> None:
    a = torch.zeros(1, 4, 4, 3)
    b = torch.full((1, 4, 4, 3), 0.1)
    assert psnr(a, b) == pytest.approx(20.0, rel=1e-5)
    assert psnr(a, a) == float("inf")
    mask = torch.zeros(1, 4, 4, dtype=torch.bool)
    mask[0, :2] = True
    b2 = b.clone()
    b2[0, 2:] = 0.5  # outside the mask: ignored
    assert psnr(a, b2, mask) == pytest.approx(20.0, rel=1e-5)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), h=st.integers(1, 40), w=st.integers(1, 40), share=st.floats(0.01, 1.0))
def test_masked_psnr_equals_the_float64_metric(seed: int, h: int, w: int, share: float) -> None:
    gen = torch.Generator().manual_seed(seed)
    a, b = torch.rand(1, h, w, 3, generator=gen), torch.rand(1, h, w, 3, generator=gen)
    mask = torch.rand(1, h, w, generator=gen) < share
    if not bool(mask.any()):
        assert math.isnan(psnr(a, b, mask))
        return
    assert psnr(a, b, mask) == pytest.approx(float(psnr_per_frame(a, b, mask)[0]), abs=1e-4)


def test_photometric_gradient_matches_finite_differences() -> None:
    torch.manual_seed(0)
    pred = torch.rand(1, 12, 12, 3, dtype=torch.float64, requires_grad=True)
    target = torch.rand(1, 12, 12, 3, dtype=torch.float64)
    # L1 has a kink at equality; the random images keep every pixel away from it.
    assert torch.autograd.gradcheck(lambda p: photometric(p, target, 0.2), (pred,), eps=1e-6, atol=1e-5)
